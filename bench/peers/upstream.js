// The bench's upstream: a small, fast HTTP/1.1 server with keep-alive, so that what the
// bench measures is the gateway in front of it. Used only by bench/gateway_overhead.py.
//   any path            -> a small JSON body
//   .../download?size=N -> N bytes, streamed in 64 KB pieces
//   .../upload          -> reads the body, answers {"received": N}
// Usage: node upstream.js PORT   (prints "listening PORT" when ready)
"use strict";
const http = require("node:http");

const piece = Buffer.alloc(65536, 120);
const small = Buffer.from(JSON.stringify({ ok: true, service: "bench-upstream" }));

const server = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
  const url = new URL(req.url, "http://upstream");
  if (url.pathname.endsWith("/download")) {
    let left = Number(url.searchParams.get("size") || 0);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": left });
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, piece.length);
        left -= n;
        if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  let received = 0;
  req.on("data", (chunk) => { received += chunk.length; });
  req.on("end", () => {
    const body = url.pathname.endsWith("/upload")
      ? Buffer.from(JSON.stringify({ received }))
      : small;
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
