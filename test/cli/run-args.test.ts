import t from 'tap';
import { parseHostPort } from '../../src/cli/run.js';

t.test('[HOST:]PORT as nginx reads "listen"', async (t) => {
  t.same(parseHostPort('443', '0.0.0.0', '--listen'), { host: '0.0.0.0', port: 443 }, 'a port alone: every interface');
  t.same(parseHostPort('127.0.0.1:8443', '0.0.0.0', '--listen'), { host: '127.0.0.1', port: 8443 });
  t.same(parseHostPort('[::1]:8443', '0.0.0.0', '--listen'), { host: '::1', port: 8443 });
  t.same(parseHostPort('tools.cisco.com:443', null, '--upstream'), { host: 'tools.cisco.com', port: 443 });
  t.match(parseHostPort('443', null, '--upstream'), /--upstream needs a host/);
  t.match(parseHostPort('::1:443', '0.0.0.0', '--listen'), /IPv6 as \[::1\]:443/);
  t.match(parseHostPort('a:b', '0.0.0.0', '--listen'), /not 'a:b'/);
  t.match(parseHostPort('1:65536', '0.0.0.0', '--listen'), /port 65536 is not 0\.\.65535/);
  t.match(parseHostPort('', '0.0.0.0', '--listen'), /not ''/);
});
