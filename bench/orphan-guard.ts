/**
 * Preloaded (`node --import`) into every target the harness starts. Each target leads its own
 * process group; if the harness dies without stopping it (SIGKILL, a killed test worker), the
 * target is re-parented, notices within a second and kills its whole group, so no server outlives
 * a benchmark. The check is one integer comparison per second: it does not show in the numbers.
 */
const harness = process.ppid;
setInterval(() => {
  if (process.ppid !== harness) process.kill(-process.pid, 'SIGKILL');
}, 1000).unref();
