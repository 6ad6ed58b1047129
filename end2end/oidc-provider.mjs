// A real OpenID provider for the console's OIDC tests (server/tests/integration/rest_api.rs):
// npm's oauth2-mock-server with one RS256 key, tokens that last `argv[2]` seconds (2 by default)
// so that expiry can be tested, and a small stats listener that counts token requests.
// Prints one JSON line with both URLs, and exits when its stdin closes (its test binary ended).
import http from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';

const lifetime = Number(process.argv[2] ?? '2');
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

const stats = { token_requests: 0, last_client_id: null, last_audience: null, last_token: null };
server.service.on('beforeTokenSigning', (token, req) => {
  stats.token_requests += 1;
  stats.last_client_id = req.body?.client_id ?? null;
  stats.last_audience = req.body?.audience ?? null;
  token.payload.exp = Math.floor(Date.now() / 1000) + lifetime;
  token.payload.client_id = stats.last_client_id;
});
server.service.on('beforeResponse', (response) => {
  if (response.body && typeof response.body === 'object' && response.body.access_token) {
    response.body.expires_in = lifetime;
    stats.last_token = response.body.access_token;
  }
});

await server.start(0, '127.0.0.1');
const statsServer = http.createServer((_, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(stats));
});
await new Promise((resolve) => statsServer.listen(0, '127.0.0.1', resolve));

console.log(JSON.stringify({
  issuer: server.issuer.url,
  stats: `http://127.0.0.1:${statsServer.address().port}/`,
}));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
