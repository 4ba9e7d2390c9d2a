// `peekwall fmc pull` against a stand-in FMC (fmc-standin.ts: real HTTPS on 127.0.0.1, a lab
// certificate made here) serving the shipped Smart Licensing bundle plus 2,345 hosts, so hosts
// take three pages at FMC's limit of 1000. What pull writes is read by the bundle reader item
// for item as the FMC served it; 429s and expired tokens are waited out and renewed; a wrong
// password, an untrusted certificate, a missing policy or domain are exit 2; no password or
// token is ever printed.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readBundle, readFmcPolicy, pullBundle } from '../../../src/sources/index.js';
import { toPlain } from '../../../src/schema/index.js';
import { fromRoot } from '../../../src/util/paths.js';
import { runCli } from '../../helpers/io.js';
import { makeCert } from '../../proxy/lib/net.js';
import { startStandin, type DomainData, type Json, type StandinOptions } from './fmc-standin.js';
import { tmp } from './helpers.js';

const SHIPPED = fromRoot('policies', 'fmc', 'smart-licensing');
const PASSWORD = 'pw-Zq81-not-in-any-output';
const ENV = { FMC_PASSWORD: PASSWORD };

function shippedData(): DomainData {
  const items = (name: string): Json[] => (JSON.parse(readFileSync(join(SHIPPED, `${name}.json`), 'utf8')) as { items: Json[] }).items;
  const acps = items('accesspolicies');
  const objects: Record<string, Json[]> = {};
  for (const f of readdirSync(SHIPPED)) {
    const kind = f.replace(/\.json$/, '');
    if (f.endsWith('.json') && !['accesspolicies', 'accessrules', 'securityintelligencepolicies', 'x-peekwall'].includes(kind)) objects[kind] = items(kind);
  }
  objects.hosts = [...(objects.hosts ?? []), ...Array.from({ length: 2345 }, (_, i) => ({ id: `host-${i}`, name: `h${i}`, type: 'Host', value: `10.${(i >> 8) & 255}.${i & 255}.1` }))];
  // An FMC with nothing of a kind answers without `items`.
  objects.fqdns = [];
  const si = items('securityintelligencepolicies');
  return {
    accesspolicies: [{ id: 'other-acp', name: 'Branch ACP', type: 'AccessPolicy', defaultAction: { action: 'BLOCK' } }, ...acps],
    accessrules: { [String(acps[0].id)]: items('accessrules') },
    securityintelligencepolicies: Object.fromEntries(si.map((s) => [String(s.id), s])),
    objects,
  };
}

const GLOBAL = 'e276abec-e0f2-11e3-8169-6d9ed49b625f';
const standinOptions = (over: Partial<StandinOptions> = {}): StandinOptions => ({
  user: 'api-reader',
  password: PASSWORD,
  domains: [
    { name: 'Global', uuid: GLOBAL, data: shippedData() },
    { name: 'Global/Branch', uuid: 'branch-uuid', data: { accesspolicies: [], accessrules: {}, securityintelligencepolicies: {}, objects: {} } },
  ],
  ...over,
});

async function setup(t: Test, over: Partial<StandinOptions> = {}) {
  const cert = await makeCert({ cn: 'fmc.lab', ips: ['127.0.0.1'] });
  const dir = tmp(t);
  const ca = join(dir, 'fmc-ca.pem');
  writeFileSync(ca, cert.cert);
  const fmc = await startStandin(t, cert, standinOptions(over));
  const args = (...more: string[]) => ['fmc', 'pull', '--url', fmc.url, '--user', 'api-reader', '--password-env', 'FMC_PASSWORD', ...more];
  return { fmc, dir, ca, args };
}

function noSecrets(t: Test, texts: string[], secrets: string[]): void {
  const all = texts.join('\n');
  for (const s of secrets) t.notOk(all.includes(s), `secret ${s.slice(0, 3)}… is not printed`);
}

t.test('fmc pull: the shipped policy from a stand-in FMC, through 429s and expired tokens; the reader reads what FMC served', async (t) => {
  // GET 2 is rate limited, GET 4 finds its token expired (refreshed), GET 9 too.
  const { fmc, dir, ca, args } = await setup(t, { faults: { 2: '429', 4: 'expire', 9: 'expire' } });
  const out = join(dir, 'pulled.json');
  const r = await runCli([...args('--policy', 'smart-licensing', '--ca', ca, '-o', out)], { env: ENV });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /fmc pull: logged in as 'api-reader', domain Global\n/);
  t.match(r.stderr, /fmc pull: HTTP 429 on GET \/api\/fmc_config\/v1\/domain\/[^ ]+: waiting 0\.00 s \(Retry-After\)\n/);
  t.equal(r.stderr.match(/token expired: refreshed/g)?.length, 2, 'each expired token refreshed');
  t.match(r.stderr, /fmc pull: accesspolicies: 'smart-licensing' \(2 on the FMC\)\n/);
  t.match(r.stderr, /fmc pull: accessrules: 3 in 1 page\n/);
  t.match(r.stderr, /fmc pull: securityintelligencepolicies: 1\n/);
  t.match(r.stderr, /fmc pull: hosts: \d+ in 3 pages\n/);
  t.match(r.stderr, /fmc pull: fqdns: 0 in 1 page\n/);
  t.match(r.stderr, /fmc pull: ranges: not on this FMC \(HTTP 404\), left out\n/);
  t.match(r.stderr, /wrote .*pulled\.json: 3 rules/);
  t.ok(fmc.log.some((l) => l.path === '/api/fmc_platform/v1/auth/refreshtoken' && l.status === 204), 'refreshtoken used');
  const gets = fmc.log.filter((l) => l.method === 'GET' && l.status === 200 && !l.path.includes('/securityintelligencepolicies/'));
  t.ok(gets.length > 10);
  for (const g of gets) t.match(g.path, /[?&]offset=\d+&limit=1000&expanded=true$/, `${g.path} is paged at 1000, expanded`);
  noSecrets(t, [r.stdout, r.stderr, readFileSync(out, 'utf8')], fmc.secrets());

  // Item for item what the FMC served, as the bundle reader reads it.
  const read = readBundle(out);
  if (!read.ok) return t.fail(JSON.stringify(read.error));
  const served = standinOptions().domains[0].data;
  const acp = served.accesspolicies[1];
  const expect: Record<string, Json[]> = {
    accesspolicies: [acp],
    accessrules: served.accessrules[String(acp.id)],
    securityintelligencepolicies: Object.values(served.securityintelligencepolicies),
    ...served.objects,
  };
  for (const [resource, items] of Object.entries(expect)) {
    t.same(read.value.bundle.resources.get(resource as never)?.map((i) => toPlain(i.node)), items, `${resource} as served`);
  }
  // And it is a policy: the same rules, with the feeds and URL database given where it is read.
  const policy = readFmcPolicy(out, { feeds: join(SHIPPED, 'feeds'), urlDatabase: fromRoot('policies', 'urldb', 'talos-sample.csv') });
  t.ok(policy.ok, policy.ok ? '' : JSON.stringify(policy.error));
  if (policy.ok) t.equal(policy.value.mapped.ruleComments.length, 3);
  const lint = await runCli(['lint', out, '--feeds', join(SHIPPED, 'feeds'), '--urldb', fromRoot('policies', 'urldb', 'talos-sample.csv')]);
  t.equal(lint.code, 0, lint.stdout + lint.stderr);
  t.match(lint.stdout + lint.stderr, / 0 error\(s\)/);
});

t.test('fmc pull: a wrong password is exit 2 naming the endpoint and status, and prints no secret', async (t) => {
  const { fmc, dir, ca, args } = await setup(t);
  const out = join(dir, 'never.json');
  const r = await runCli(args('--policy', 'smart-licensing', '--ca', ca, '-o', out), { env: { FMC_PASSWORD: `${PASSWORD}-typo` } });
  t.equal(r.code, 2);
  t.match(r.stderr, /POST \/api\/fmc_platform\/v1\/auth\/generatetoken answered HTTP 401: the FMC refused user 'api-reader'.*\[fmc\/pull-auth\]/);
  t.notOk(existsSync(out), 'nothing written');
  noSecrets(t, [r.stdout, r.stderr], [...fmc.secrets(), `${PASSWORD}-typo`, Buffer.from(`api-reader:${PASSWORD}-typo`).toString('base64')]);
});

t.test('fmc pull: a missing policy or domain, an untrusted certificate, a missing password are exit 2', async (t) => {
  const { fmc, dir, ca, args } = await setup(t);
  const out = join(dir, 'never.json');
  const missing = await runCli(args('--policy', 'no-such-acp', '--ca', ca, '-o', out), { env: ENV });
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no access policy named 'no-such-acp' on the FMC \('Branch ACP', 'smart-licensing'\) \[fmc\/no-policy\]/);
  const branch = await runCli(args('--policy', 'smart-licensing', '--domain', 'Branch', '--ca', ca, '-o', out), { env: ENV });
  t.equal(branch.code, 2);
  t.match(branch.stderr, /no access policy named 'smart-licensing' on the FMC \(none\)/);
  const domain = await runCli(args('--policy', 'smart-licensing', '--domain', 'Nowhere', '--ca', ca, '-o', out), { env: ENV });
  t.equal(domain.code, 2);
  t.match(domain.stderr, /no domain named 'Nowhere' in the token's DOMAINS \('Global', 'Global\/Branch'\) \[fmc\/unknown-domain\]/);
  const untrusted = await runCli(args('--policy', 'smart-licensing', '-o', out), { env: ENV });
  t.equal(untrusted.code, 2);
  t.match(untrusted.stderr, /POST 127\.0\.0\.1:\d+\/api\/fmc_platform\/v1\/auth\/generatetoken: the FMC's certificate is not trusted .*--ca FILE.*\[fmc\/pull-tls\]/);
  const noPw = await runCli(args('--policy', 'smart-licensing', '-o', out), { env: {} });
  t.equal(noPw.code, 2);
  t.match(noPw.stderr, /FMC_PASSWORD \(--password-env\) is not set or empty/);
  const http = await runCli(['fmc', 'pull', '--url', fmc.url.replace('https', 'http'), '--user', 'u', '--password-env', 'FMC_PASSWORD', '--policy', 'p', '-o', out], { env: ENV });
  t.equal(http.code, 2);
  t.match(http.stderr, /--url must be https:\/\/HOST\[:PORT\]/);
  t.notOk(existsSync(out), 'nothing written');
  // --insecure takes the lab certificate as it is.
  const insecure = await runCli(args('--policy', 'smart-licensing', '--insecure', '-o', out), { env: ENV });
  t.equal(insecure.code, 0, insecure.stderr);
  noSecrets(t, [missing, branch, domain, untrusted, noPw, http, insecure].flatMap((x) => [x.stdout, x.stderr]), fmc.secrets());
});

t.test('pullBundle: 429 without Retry-After backs off and doubles; too many in a row is an error naming the status and endpoint', async (t) => {
  const { fmc } = await setup(t, { faults: { 1: '429-bare', 2: '429-bare', 5: '429-bare', 6: '429-bare', 7: '429-bare' } });
  const lines: string[] = [];
  const base = { url: fmc.url, user: 'api-reader', password: PASSWORD, policy: 'smart-licensing', insecure: true, backoffMs: 20, progress: (l: string) => lines.push(l) };
  const ok = await pullBundle({ ...base, maxRetries: 3 });
  t.ok(ok.ok, ok.ok ? '' : ok.error.message);
  t.match(lines.slice(0, 3).join('\n'), /waiting 0\.02 s \(backoff\)\nHTTP 429 .*waiting 0\.04 s \(backoff\)/);
  const fmc2 = await setup(t, { faults: { 2: '429-bare', 3: '429-bare', 4: '429-bare' } });
  const failed = await pullBundle({ ...base, url: fmc2.fmc.url, maxRetries: 2 });
  t.notOk(failed.ok);
  if (!failed.ok) {
    t.equal(failed.error.code, 'fmc/pull-rate-limited');
    t.match(failed.error.message, /^GET \/api\/fmc_config\/v1\/domain\/[^ ]+\/policy\/accesspolicies\/[^ ]+\/accessrules\?offset=0&limit=1000&expanded=true answered HTTP 429 3 times in a row/);
  }
});

t.test('pullBundle: a refused refresh logs in again', async (t) => {
  const { fmc } = await setup(t, { refuseRefresh: true, faults: { 3: 'expire' } });
  const lines: string[] = [];
  const got = await pullBundle({ url: fmc.url, user: 'api-reader', password: PASSWORD, policy: 'smart-licensing', insecure: true, progress: (l) => lines.push(l) });
  t.ok(got.ok, got.ok ? '' : got.error.message);
  t.ok(lines.includes('token expired: logged in again'));
  t.equal(fmc.log.filter((l) => l.path.endsWith('/generatetoken')).length, 2);
});

t.test('fmc pull: an FMC failure is exit 1 naming the HTTP status, the endpoint and what FMC said; nothing is written', async (t) => {
  const { fmc, dir, ca, args } = await setup(t, { faults: { 6: '500' } }); // the second page of hosts
  const out = join(dir, 'never.json');
  const r = await runCli(args('--policy', 'smart-licensing', '--ca', ca, '-o', out), { env: ENV });
  t.equal(r.code, 1);
  t.match(r.stderr, /peekwall: GET \/api\/fmc_config\/v1\/domain\/e276abec-e0f2-11e3-8169-6d9ed49b625f\/object\/hosts\?offset=1000&limit=1000&expanded=true answered HTTP 500: Internal server error: database unavailable \[fmc\/pull-http\]\n/);
  t.notOk(existsSync(out), 'nothing written');
  noSecrets(t, [r.stdout, r.stderr], fmc.secrets());
});
