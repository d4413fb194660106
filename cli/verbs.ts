// The CLI's verbs, each module loaded when its verb runs.

/** Each verb's module is loaded when the verb runs: a command loads only what it needs (YAML, schemas, tables, signing), not every verb's. */
export const verbs = {
  apply: () => import('./commands/apply.js'),
  check: () => import('./commands/check.js'),
  create: () => import('./commands/create.js'),
  createSecret: () => import('./commands/create-secret.js'),
  delete: () => import('./commands/delete.js'),
  describe: () => import('./commands/describe.js'),
  endpoints: () => import('./commands/endpoints.js'),
  fingerprint: () => import('./commands/fingerprint.js'),
  get: () => import('./commands/get.js'),
  join: () => import('./commands/join.js'),
  keygen: () => import('./commands/keygen.js'),
  label: () => import('./commands/label.js'),
  logs: () => import('./commands/logs.js'),
  nodesAdmission: () => import('./commands/nodes-admission.js'),
  plan: () => import('./commands/plan.js'),
  resign: () => import('./commands/resign.js'),
  rollout: () => import('./commands/rollout.js'),
  setImage: () => import('./commands/set-image.js'),
  version: () => import('./commands/version.js'),
  completion: () => import('./completion.js'),
}
