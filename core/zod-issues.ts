// Turns zod's issues into our field issues, split into errors and unknown-field warnings.

import type { ZodIssue } from 'zod'
import type { FieldIssue } from './errors.js'
import { joinPath } from './path.js'


/** zodIssues converts zod issues under `base`; unknown fields become warnings, not errors. */
export function zodIssues(issues: readonly ZodIssue[], base = ''): { errors: FieldIssue[]; warnings: FieldIssue[] } {
  const errors: FieldIssue[] = []
  const warnings: FieldIssue[] = []
  for (const issue of issues) {
    const path = joinPath(base, ...issue.path)
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) warnings.push({ path: joinPath(path, key), message: 'unknown field (ignored)' })
        break
      case 'invalid_type':
        if (issue.received === 'undefined') errors.push({ path, message: 'required' })
        else if (issue.expected === 'integer') errors.push({ path, message: `Invalid value: must be an integer` })
        else errors.push({ path, message: `Invalid value: expected ${issue.expected}, got ${issue.received}` })
        break
      case 'invalid_literal':
        errors.push({ path, message: `Unsupported value: ${JSON.stringify(issue.received)}: supported values: ${JSON.stringify(issue.expected)}` })
        break
      case 'invalid_union':
        errors.push({ path, message: 'Invalid value: must be an integer or a string' })
        break
      default:
        errors.push({ path, message: `Invalid value: ${issue.message}` })
    }
  }
  return { errors, warnings }
}

