// `peekwall lab serve`: the simulated cloud and peekwall in front of it, kept running for a
// person to point real clients at (curl, openssl s_client, a lab FMC/ASA with its DNS
// pointed here), until the signal says stop.
import type { ConnectionEvent } from '../events/index.js';
import { LICENSING_HOST } from './client.js';
import { DDCE_PATH } from './cloud.js';
import { loadLabPolicy } from './acts.js';
import { SHIPPED_POLICY } from './scenarios.js';
import { LabWorld, LAB_TOKEN } from './world.js';
import { fromRoot } from '../util/paths.js';

export interface ServeOptions {
  readonly policy?: string;
  readonly tsid?: boolean;
  /** Port for the two transparent server aliases (default 8443). */
  readonly port?: number;
  /** Explicit (CONNECT) listener port (default 3128). */
  readonly explicitPort?: number;
  readonly cloudPort?: number;
  readonly tls13?: boolean;
  /** Folder holding certs/ and policies/lab/tokens.txt (default: the package root). */
  readonly root?: string;
  /** Record the inspected connections and TSID probes as pcapng, written when serve stops. */
  readonly capture?: string;
  readonly signal: AbortSignal;
  readonly print: (text: string) => void;
  readonly onEvent?: (e: ConnectionEvent) => void;
  /** Called once everything listens (tests use it to find the ports). */
  readonly onReady?: (info: ServeInfo) => void;
}

export interface ServeInfo {
  readonly cloud: { host: string; port: number; tls: string };
  readonly transparent: { seed: string; host: string; port: number }[];
  readonly explicit: { host: string; port: number };
  readonly policy: string;
  readonly tsid: boolean;
}

/** Runs until `signal` aborts; resolves after everything is closed. */
export async function serveLab(o: ServeOptions): Promise<ServeInfo> {
  const policyRel = o.policy ?? SHIPPED_POLICY;
  const policy = await loadLabPolicy(policyRel, o.tsid);
  const w = new LabWorld({
    explicitProxy: true,
    runningClock: true,
    proxyPort: o.port ?? 8443,
    explicitPort: o.explicitPort ?? 3128,
    ...(o.cloudPort !== undefined ? { cloudPort: o.cloudPort } : {}),
    ...(o.tls13 ? { tls13: true } : {}),
    ...(o.root ? { root: o.root } : {}),
    ...(o.capture ? { capture: o.capture, captureExact: true } : {}),
  });
  try {
    const cloud = await w.startCloud();
    w.onEvent = o.onEvent ?? null;
    await w.startProxy(policy);
    const ports = w.proxyPorts;
    const explicitHost = w.map.toLab('192.0.2.10');
    const info: ServeInfo = {
      cloud: { host: cloud.host, port: cloud.port, tls: cloud.tlsMaxVersion },
      transparent: ports.servers,
      explicit: { host: explicitHost, port: ports.explicit },
      policy: policyRel,
      tsid: policy.settings.tsid.enabled,
    };
    const [a, b] = ports.servers;
    const ca = w.paths.ca;
    const fmc = w.map.toLab('10.12.1.8');
    const body = `'{"op":"register","device":"my-device","token":"${LAB_TOKEN}"}'`;
    o.print(
      [
        'peekwall lab serve — the simulated Smart Licensing cloud behind peekwall (Ctrl-C stops it)',
        `  cloud        https://${cloud.host}:${cloud.port}${DDCE_PATH}  (${w.paths.cert.replace(fromRoot() + '/', '')}, max ${cloud.tlsMaxVersion})`,
        `  transparent  ${a.host}:${a.port}  stands for ${a.seed}:443`,
        `               ${b.host}:${b.port}  stands for ${b.seed}:443`,
        `  explicit     ${explicitHost}:${ports.explicit}  (PROXY_SRV ${explicitHost}, PROXY_PORT ${ports.explicit})`,
        `  policy       ${policyRel}, TSID ${info.tsid ? 'on' : 'off'}; lab tokens in policies/lab/tokens.txt`,
        '',
        `Clients bind to a device alias (${fmc} is the FMC 10.12.1.8) so the policy's rules match them.`,
        'Without SNI, like the licensing agents:',
        `  openssl s_client -bind ${fmc}:0 -connect ${a.host}:${a.port} -noservername -CAfile ${ca} -verify_hostname ${LICENSING_HOST} </dev/null`,
        `  curl --interface ${fmc} -k -X POST -H 'content-type: application/json' -d ${body} https://${a.host}:${a.port}${DDCE_PATH}`,
        '    (curl sends no SNI when the URL host is an IP address; -k because the name is then the IP)',
        'With SNI (a browser-like client; TSID is not needed then):',
        `  curl --interface ${fmc} --cacert ${ca} --resolve ${LICENSING_HOST}:${a.port}:${a.host} -X POST -d ${body} https://${LICENSING_HOST}:${a.port}${DDCE_PATH}`,
        'Through the explicit proxy (CONNECT; the lab resolves tools.cisco.com to the cloud, so name its port):',
        `  curl --interface ${fmc} --cacert ${ca} -x http://${explicitHost}:${ports.explicit} -X POST -d ${body} https://${LICENSING_HOST}:${cloud.port}${DDCE_PATH}`,
        '',
        'Connection events follow, one per connection:',
      ].join('\n') + '\n',
    );
    o.onReady?.(info);
    await new Promise<void>((resolve) => {
      if (o.signal.aborted) return resolve();
      o.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return info;
  } finally {
    await w.close();
  }
}
