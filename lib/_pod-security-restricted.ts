/**
 * The Pod Security Standards, "baseline" and "restricted" profiles, as published at
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy version v1.32),
 * written out control by control. Returns the violations of one pod template, as sentences.
 *
 * The constructs run it on every pod template they build once `podSpecOverrides` are merged in
 * (see `warnIfNotRestricted`), and the tests run it over the whole synthesized app.
 */
const BASELINE_CAPABILITIES = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
const SAFE_SYSCTLS = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);
const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

export function restrictedViolations(template: any): string[] {
  const spec = template?.spec ?? {};
  const podSc = spec.securityContext ?? {};
  const containers: any[] = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  const v: string[] = [];
  const each = (check: (c: any, sc: any) => string | undefined) => {
    for (const c of containers) {
      const msg = check(c, c.securityContext ?? {});
      if (msg) v.push(`container ${c.name}: ${msg}`);
    }
  };

  // ---- baseline ----
  if (podSc.windowsOptions?.hostProcess === true) v.push('HostProcess: pod windowsOptions.hostProcess is true');
  each((_, sc) => sc.windowsOptions?.hostProcess === true ? 'HostProcess: windowsOptions.hostProcess is true' : undefined);
  for (const ns of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[ns] === true) v.push(`Host Namespaces: ${ns} is true`);
  }
  each((_, sc) => sc.privileged === true ? 'Privileged Containers: privileged is true' : undefined);
  each((_, sc) => (sc.capabilities?.add ?? []).find((cap: string) => !BASELINE_CAPABILITIES.has(cap)) ? 'Capabilities: adds a capability beyond the baseline set' : undefined);
  for (const vol of spec.volumes ?? []) {
    if (vol.hostPath) v.push(`HostPath Volumes: volume ${vol.name} is a hostPath`);
  }
  each((c) => (c.ports ?? []).some((p: any) => p.hostPort !== undefined && p.hostPort !== 0) ? 'Host Ports: a hostPort is set' : undefined);
  const appArmorOk = (p: any) => p === undefined || ['RuntimeDefault', 'Localhost'].includes(p.type);
  if (!appArmorOk(podSc.appArmorProfile)) v.push('AppArmor: pod profile is not RuntimeDefault/Localhost');
  each((_, sc) => appArmorOk(sc.appArmorProfile) ? undefined : 'AppArmor: profile is not RuntimeDefault/Localhost');
  for (const [key, value] of Object.entries(template?.metadata?.annotations ?? {})) {
    if (key.startsWith('container.apparmor.security.beta.kubernetes.io/') && value !== 'runtime/default' && !String(value).startsWith('localhost/')) {
      v.push(`AppArmor: annotation ${key} is ${value}`);
    }
  }
  const seLinuxOk = (o: any) => o === undefined || (SELINUX_TYPES.has(o.type ?? '') && o.user === undefined && o.role === undefined);
  if (!seLinuxOk(podSc.seLinuxOptions)) v.push('SELinux: pod seLinuxOptions not allowed');
  each((_, sc) => seLinuxOk(sc.seLinuxOptions) ? undefined : 'SELinux: seLinuxOptions not allowed');
  each((_, sc) => sc.procMount !== undefined && sc.procMount !== 'Default' ? '/proc Mount Type: not Default' : undefined);
  if (podSc.seccompProfile?.type === 'Unconfined') v.push('Seccomp: pod profile is Unconfined');
  each((_, sc) => sc.seccompProfile?.type === 'Unconfined' ? 'Seccomp: profile is Unconfined' : undefined);
  for (const s of podSc.sysctls ?? []) {
    if (!SAFE_SYSCTLS.has(s.name)) v.push(`Sysctls: ${s.name} is not in the safe set`);
  }

  // ---- restricted ----
  for (const vol of spec.volumes ?? []) {
    const types = Object.keys(vol).filter((k) => k !== 'name');
    if (!types.every((t) => RESTRICTED_VOLUME_TYPES.has(t))) v.push(`Volume Types: volume ${vol.name} is ${types.join(',')}`);
  }
  each((_, sc) => sc.allowPrivilegeEscalation === false ? undefined : 'Privilege Escalation: allowPrivilegeEscalation is not false');
  const podNonRoot = podSc.runAsNonRoot === true;
  each((_, sc) => {
    if (sc.runAsNonRoot === false) return 'Running as Non-root: runAsNonRoot is false';
    return podNonRoot || sc.runAsNonRoot === true ? undefined : 'Running as Non-root: runAsNonRoot is not true at pod or container level';
  });
  if (podSc.runAsUser === 0) v.push('Running as Non-root user: pod runAsUser is 0');
  each((_, sc) => sc.runAsUser === 0 ? 'Running as Non-root user: runAsUser is 0' : undefined);
  const seccompOk = (p: any) => p !== undefined && ['RuntimeDefault', 'Localhost'].includes(p.type);
  each((_, sc) => {
    if (sc.seccompProfile !== undefined) return seccompOk(sc.seccompProfile) ? undefined : 'Seccomp: container profile is not RuntimeDefault/Localhost';
    return seccompOk(podSc.seccompProfile) ? undefined : 'Seccomp: no RuntimeDefault/Localhost profile at pod or container level';
  });
  each((_, sc) => {
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) return 'Capabilities: does not drop ALL';
    return (sc.capabilities?.add ?? []).every((cap: string) => cap === 'NET_BIND_SERVICE') ? undefined : 'Capabilities: adds a capability other than NET_BIND_SERVICE';
  });
  return v;
}
