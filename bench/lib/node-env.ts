// The environment our node processes run in during a benchmark.

/**
 * This process's environment without NODE_EXTRA_CA_CERTS, which this sandbox sets and which makes every node
 * process parse the whole system CA bundle at start (0.1-0.2 s, measured; docs/benchmarks/pull.md). The peers
 * (Go programs: the reference snapshotter, skopeo) ignore it, so it would only be a handicap of ours.
 */
export const OUR_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));
