// The expectations beside each committed capture are tshark's reading, not hand-edited: tshark
// decodes every capture again here (expect.mjs) and must say what the .json says. .ci/run
// installs tshark (Debian's), so this runs in CI; elsewhere it is skipped when tshark is missing.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { captureExpect, capturesDir } from './lib.js';
import { hasTool } from '../helpers/capture.js';


const PORTS = ['44301', '44302', '44303', '44304', '44305'];
const captures = readdirSync(capturesDir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

t.test('tshark decodes each committed capture as its .json says', { skip: hasTool('tshark') && hasTool('capinfos') ? false : 'tshark/capinfos not installed (.ci/run installs them)' }, async (t) => {
  for (const name of captures) {
    const out = execFileSync(process.execPath, [join(capturesDir, 'expect.mjs'), join(capturesDir, name), ...PORTS], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
    const now = JSON.parse(out.toString('utf8'));
    const committed = captureExpect(name);
    t.same({ linkType: now.linkType, packets: now.packets, flows: now.flows }, { linkType: committed.linkType, packets: committed.packets, flows: committed.flows }, name);
  }
});
