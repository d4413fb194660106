// kubectl's label selector syntax (`-l`): `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
// `k notin (a,b)`, `k`, `!k`, joined by commas (ANDed). No I/O here.

import type { FieldIssue } from './errors.js'
import type { LabelSelector, LabelSelectorRequirement } from './types.js'

/** splitTopLevel splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const out: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of text) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  out.push(cur)
  return out.map((s) => s.trim()).filter((s) => s !== '')
}

/** parseSelectorText turns `-l` text into a LabelSelector, or says what is wrong. */
export function parseSelectorText(text: string): { selector?: LabelSelector; issues: FieldIssue[] } {
  const exprs: LabelSelectorRequirement[] = []
  const issues: FieldIssue[] = []
  for (const part of splitTopLevel(text)) {
    let m: RegExpExecArray | null
    if ((m = /^([^\s=!(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part)) !== null) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '')
      exprs.push({ key: m[1] ?? '', operator: m[2] === 'in' ? 'In' : 'NotIn', values })
    } else if ((m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(part)) !== null) {
      exprs.push({ key: m[1] ?? '', operator: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3] ?? ''] })
    } else if ((m = /^!\s*([^\s=!(),]+)$/.exec(part)) !== null) {
      exprs.push({ key: m[1] ?? '', operator: 'DoesNotExist' })
    } else if ((m = /^([^\s=!(),]+)$/.exec(part)) !== null) {
      exprs.push({ key: m[1] ?? '', operator: 'Exists' })
    } else {
      issues.push({ path: '', message: `invalid selector requirement "${part}": use k=v, k!=v, k in (a,b), k notin (a,b), k or !k` })
    }
  }
  return issues.length > 0 ? { issues } : { selector: { matchExpressions: exprs }, issues }
}
