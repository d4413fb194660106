// Field paths as Kubernetes prints them: `spec.template.spec.containers[0].image`.

export type PathSegment = string | number

/** joinPath appends segments to a base path; numbers become `[i]`. */
export function joinPath(base: string, ...segments: PathSegment[]): string {
  let out = base
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (out === '') out = seg
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}
