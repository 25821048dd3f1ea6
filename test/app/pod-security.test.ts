import { describe, expect, test } from '@jest/globals';
import { restrictedViolations } from '../../lib/_pod-security-restricted.ts';

// The checker the whole-app test relies on must itself catch each control it claims to check.
const good = () => ({
  metadata: { labels: {} },
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  },
});

describe('Pod Security restricted checker', () => {
  test('accepts a pod that meets every control', () => {
    expect(restrictedViolations(good())).toEqual([]);
  });

  test.each([
    ['hostNetwork', (p: any) => { p.spec.hostNetwork = true; }, /Host Namespaces/],
    ['privileged', (p: any) => { p.spec.containers[0].securityContext.privileged = true; }, /Privileged/],
    ['hostPath', (p: any) => { p.spec.volumes.push({ name: 'h', hostPath: { path: '/' } }); }, /HostPath/],
    ['hostPort', (p: any) => { p.spec.containers[0].ports = [{ containerPort: 80, hostPort: 80 }]; }, /Host Ports/],
    ['privilege escalation', (p: any) => { delete p.spec.containers[0].securityContext.allowPrivilegeEscalation; }, /Privilege Escalation/],
    ['root', (p: any) => { p.spec.securityContext.runAsNonRoot = false; }, /Non-root/],
    ['uid 0', (p: any) => { p.spec.containers[0].securityContext.runAsUser = 0; }, /Non-root user/],
    ['no seccomp', (p: any) => { delete p.spec.securityContext.seccompProfile; }, /Seccomp/],
    ['unconfined seccomp', (p: any) => { p.spec.containers[0].securityContext.seccompProfile = { type: 'Unconfined' }; }, /Seccomp/],
    ['no drop ALL', (p: any) => { p.spec.containers[0].securityContext.capabilities = {}; }, /drop ALL/],
    ['added capability', (p: any) => { p.spec.containers[0].securityContext.capabilities.add = ['NET_ADMIN']; }, /Capabilities/],
    ['unsafe sysctl', (p: any) => { p.spec.securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }]; }, /Sysctls/],
    ['proc mount', (p: any) => { p.spec.containers[0].securityContext.procMount = 'Unmasked'; }, /proc Mount/],
    ['selinux user', (p: any) => { p.spec.securityContext.seLinuxOptions = { user: 'root' }; }, /SELinux/],
    ['nfs volume', (p: any) => { p.spec.volumes.push({ name: 'n', nfs: { server: 'x', path: '/' } }); }, /Volume Types/],
  ])('flags %s', (_name, mutate, message) => {
    const pod = good();
    mutate(pod);
    expect(restrictedViolations(pod).join('\n')).toMatch(message);
  });
});
