// `-o go-template=…`: the subset of Go templates scripts use with kubectl: literal text,
// `{{.field.path}}` and string literals such as `{{"\n"}}`. Anything else is refused.

import { UsageError } from './errors.js'

/** renderTemplate applies a go-template to one object. */
export function renderTemplate(template: string, data: unknown): string {
  return template.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_m, expr: string) => {
    if (/^"(?:[^"\\]|\\.)*"$/.test(expr)) return JSON.parse(expr) as string
    if (expr === '.') return typeof data === 'string' ? data : JSON.stringify(data)
    if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(expr)) throw new UsageError(`-o go-template: unsupported action {{${expr}}}: only {{.field.path}} and {{"text"}} are supported`)
    let v: unknown = data
    for (const key of expr.slice(1).split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined
    if (v === undefined || v === null) return '<no value>'
    return typeof v === 'object' ? JSON.stringify(v) : String(v)
  })
}
