'use strict';
// A Node.js service for cbconsole's tests: four opossum breakers around calls
// to a downstream the test runs (DOWNSTREAM, one path per breaker), metrics by
// opossum-prometheus on /metrics, and the breakers' own view on /breakers.
// Usage: node service.js PORT DOWNSTREAM_URL

const http = require('http');
const CircuitBreaker = require('opossum');
const PrometheusMetrics = require('opossum-prometheus');
const client = require('prom-client');

const [port, downstream] = process.argv.slice(2);

function call (path) {
  return new Promise((resolve, reject) => {
    const req = http.get(downstream + path, res => {
      res.resume();
      res.on('end', () => (res.statusCode < 400 ? resolve(res.statusCode)
        : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

const options = {
  timeout: 300, // the slow downstream answers after a second
  errorThresholdPercentage: 50,
  resetTimeout: 1500,
  volumeThreshold: 3,
  rollingCountTimeout: 2000,
  rollingCountBuckets: 4
};
const names = ['healthy', 'failing', 'flapping', 'slow'];
const breakers = names.map(name => new CircuitBreaker(() => call('/' + name), { ...options, name }));

// opossum-prometheus counts only the events that already have a listener when
// a breaker is added (opossum itself listens to open and close only).
const events = ['fire', 'success', 'failure', 'timeout', 'reject', 'open', 'halfOpen', 'close'];
for (const breaker of breakers) {
  for (const event of events) breaker.on(event, () => {});
}
const registry = new client.Registry();
const metrics = new PrometheusMetrics({ circuits: breakers, registry });

function state (breaker) {
  if (breaker.halfOpen) return 'halfOpen';
  return breaker.opened ? 'open' : 'closed';
}

// Traffic: every breaker is called every 50 ms.
setInterval(() => {
  for (const breaker of breakers) breaker.fire().catch(() => {});
}, 50);

http.createServer(async (req, res) => {
  if (req.url === '/metrics') {
    res.setHeader('Content-Type', registry.contentType);
    res.end(await metrics.metrics);
  } else if (req.url === '/breakers') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(Object.fromEntries(breakers.map(b => [b.name, state(b)]))));
  } else {
    res.statusCode = 404;
    res.end();
  }
}).listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
