// The seed lesson's gateway, as its course wrote it: Express + http-proxy-middleware with
// the seed's options (changeOrigin, an on.proxyReq hook that sets the correlation id and
// x-forwarded-by). No agent is given, so http-proxy asks the upstream to close each
// connection, exactly as the seed's gateway did. Used only by bench/gateway_overhead.py.
//
// Usage: node seed_gateway.js PORT UPSTREAM_URL   (prints "listening PORT" when ready)
"use strict";
const crypto = require("node:crypto");
const express = require("express");
const { createProxyMiddleware } = require("http-proxy-middleware");

const port = Number(process.argv[2] || 0);
const upstream = process.argv[3] || "http://127.0.0.1:3001";
const routes = [
  { path: "/auth", target: upstream },
  { path: "/notifications", target: upstream },
];

const app = express();
app.use((req, res, next) => {
  const id = req.headers["x-correlation-id"] || crypto.randomUUID();
  req.correlationId = id;
  res.setHeader("x-correlation-id", id);
  next();
});
for (const route of routes) {
  app.use(
    route.path,
    createProxyMiddleware({
      target: route.target,
      changeOrigin: true,
      on: {
        proxyReq: (proxyReq, req) => {
          const corrId = req.correlationId;
          if (corrId) {
            proxyReq.setHeader("x-correlation-id", corrId);
          }
          proxyReq.setHeader("x-forwarded-by", "gateway");
        },
      },
    })
  );
}
const server = app.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
