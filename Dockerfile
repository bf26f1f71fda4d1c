# syntax=docker/dockerfile:1
# The Switchboard gateway image (docs/deployment.md): the packages built and packed from this
# repository, installed like any user installs them, run as a non-root user.
#
#   docker build -t switchboard .
#   docker run -p 8080:8080 -v sb-data:/data -e SWITCHBOARD_JWT_SECRET=… -e SWITCHBOARD_API_KEY=… switchboard
#
# Configuration: environment variables (SWITCHBOARD_*, docs/configuration.md) over the config
# file SWITCHBOARD_CONFIG names (default: deploy/switchboard.json, SQLite in /data; mount your
# own over /etc/switchboard/switchboard.json). test/packages.test.ts runs this file's steps on
# every npm test; `npm run test:image` builds and runs the image itself with podman.

# The base: Node 24 with npm, and a `node` user (uid 1000). Another base with those works:
# `--build-arg NODE_IMAGE=…` (test/image/podman.test.ts builds on one made by debootstrap).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: the tarballs, exactly as `npm run release` makes them -------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/api-client/package.json packages/api-client/
COPY packages/client/package.json packages/client/
COPY packages/react/package.json packages/react/
COPY packages/server/package.json packages/server/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && mkdir /tarballs \
 && for p in protocol api-client client server; do npm pack --ignore-scripts --pack-destination /tarballs -w packages/$p; done

# ---- runtime: the server package and its runtime dependencies, nothing else ---------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    SWITCHBOARD_CONFIG=/etc/switchboard/switchboard.json
WORKDIR /app
COPY --from=build /tarballs /tmp/tarballs
RUN echo '{"name":"switchboard-image","private":true}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/tarballs/*.tgz \
 && rm -rf /tmp/tarballs /root/.npm \
 && mkdir -p /data /etc/switchboard \
 && chown node:node /data
COPY deploy/switchboard.json /etc/switchboard/switchboard.json
USER node
VOLUME /data
EXPOSE 8080
# SIGTERM drains: clients are told to reconnect elsewhere (3001), stores flushed, exit 0
# within shutdown.timeoutMs (10 s): give the container more than that to stop.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SWITCHBOARD_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/node_modules/@switchboard/server/bin/switchboard.js"]
CMD ["serve"]
