// Reading Gluetun's control-server answers. Bodies are JSON sent as text/plain; the forwarded port has
// had three shapes across versions ({"port":N}, {"ports":[...]}, both), 0 meaning none.

/** The forwarded port in a `/v1/portforward` (or `/v1/openvpn/portforwarded`) body; null when none. */
export function parseForwardedPort(body: string): number | null {
  try {
    const json = JSON.parse(body) as { port?: unknown; ports?: unknown };
    const fromList = Array.isArray(json.ports) ? json.ports[0] : undefined;
    const port = typeof fromList === 'number' ? fromList : json.port;
    return typeof port === 'number' && Number.isInteger(port) && port > 0 && port <= 65535 ? port : null;
  } catch {
    return null;
  }
}

/** The VPN status (`running`, `stopped`, ...) in a `/v1/vpn/status` body, or undefined if unreadable. */
export function parseVpnStatus(body: string): string | undefined {
  try {
    const status = (JSON.parse(body) as { status?: unknown }).status;
    return typeof status === 'string' ? status : undefined;
  } catch {
    return undefined;
  }
}

/** The public IP in a `/v1/publicip/ip` body; null when empty or unreadable. */
export function parsePublicIp(body: string): string | null {
  try {
    const ip = (JSON.parse(body) as { public_ip?: unknown }).public_ip;
    return typeof ip === 'string' && ip !== '' ? ip : null;
  } catch {
    return null;
  }
}
