// The layering rule of DESIGN.md: kernel < pool < batch < cluster < monitor < cli.
// A folder imports only from folders to its left; no cycles anywhere. `testing` sits beside kernel
// (it may use the kernel; only tests and users import it).
const order = ['kernel', 'pool', 'batch', 'cluster', 'monitor', 'cli']
const upward = order.map((layer, i) => ({
  name: `no-upward-from-${layer}`,
  severity: 'error',
  comment: `${layer} may import only from ${order.slice(0, i).join(', ') || 'nothing in src'}`,
  from: { path: `^src/${layer}/` },
  to: {
    path: `^src/(${order
      .slice(i + 1)
      .concat('testing')
      .join('|')})/`,
  },
}))
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'no runtime import cycles (type-only imports erase at compile time)',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    ...upward,
    {
      name: 'kernel-imports-nothing',
      severity: 'error',
      comment: 'the kernel depends on nothing but node builtins',
      from: { path: '^src/kernel/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
}
