/**
 * Preloaded (`node --import`) into third-party servers that have no option for the listen address
 * (supergateway, server-everything's HTTP transport): a listen on a bare port becomes a listen on
 * 127.0.0.1, so the benchmark never opens a port beyond loopback.
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  const first = args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  } else if (first !== null && typeof first === 'object' && !('path' in first) && !('fd' in first) && !('_handle' in first)) {
    args[0] = { ...first, host: '127.0.0.1' };
  }
  return (listen as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof net.Server.prototype.listen;
