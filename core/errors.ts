// Error types shared by core, agent and CLI. Callers branch on `err.name`, never on text.

/** FieldIssue is one problem found in an input, located by its field path. */
export interface FieldIssue {
  /** Dotted path with indexes, e.g. `spec.template.spec.containers[0].image`. */
  path: string
  message: string
}

/** formatIssue renders an issue as `path: message` (or just the message at the root). */
export function formatIssue(issue: FieldIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`
}

/** ValidationError is thrown when an input has one or more errors; it carries all of them. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError'
  readonly issues: FieldIssue[]

  constructor(issues: FieldIssue[], context?: string) {
    const head = context === undefined ? '' : `${context}: `
    super(head + issues.map(formatIssue).join('; '))
    this.issues = issues
  }
}

/** SignatureError is thrown when an envelope is unsigned, badly signed or untrusted. */
export class SignatureError extends Error {
  override readonly name = 'SignatureError'
}

/** ManifestError is thrown when a YAML document cannot be read at all. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError'
}

/** MalformedEnvelopeError is thrown when an envelope does not have the envelope shape. */
export class MalformedEnvelopeError extends Error {
  override readonly name = 'MalformedEnvelopeError'
}
