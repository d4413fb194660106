// Name and label syntax rules from Kubernetes' apimachinery validation. Each check
// returns the list of problems (empty when valid) so callers can gather every error.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/

/** dns1123Label checks a name such as a namespace or container name; returns problems. */
export function dns1123Label(value: string): string[] {
  const out: string[] = []
  if (value.length > 63) out.push('must be no more than 63 characters')
  if (!DNS1123_LABEL.test(value)) {
    out.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character")
  }
  return out
}

/** dns1123Subdomain checks a name such as a DaemonSet or node name; returns problems. */
export function dns1123Subdomain(value: string): string[] {
  const out: string[] = []
  if (value.length > 253) out.push('must be no more than 253 characters')
  if (!DNS1123_SUBDOMAIN.test(value)) {
    out.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
  }
  return out
}

/** qualifiedName checks a label key such as `node-role.kubernetes.io/master`; returns problems. */
export function qualifiedName(value: string): string[] {
  const parts = value.split('/')
  let name = value
  const out: string[] = []
  if (parts.length > 2) {
    return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/'"]
  }
  if (parts.length === 2) {
    const prefix = parts[0] ?? ''
    name = parts[1] ?? ''
    if (prefix.length === 0) out.push('prefix part must be non-empty')
    else for (const p of dns1123Subdomain(prefix)) out.push(`prefix part ${p}`)
  }
  if (name.length === 0) out.push('name part must be non-empty')
  else if (name.length > 63) out.push('name part must be no more than 63 characters')
  else if (!QUALIFIED_NAME.test(name)) {
    out.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
  }
  return out
}

/** labelValue checks a label value (empty is allowed); returns problems. */
export function labelValue(value: string): string[] {
  const out: string[] = []
  if (value.length > 63) out.push('must be no more than 63 characters')
  if (!LABEL_VALUE.test(value)) {
    out.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
  }
  return out
}

/** portName checks a named port (IANA service name); returns problems. */
export function portName(value: string): string[] {
  const out: string[] = []
  if (value.length > 15) out.push('must be no more than 15 characters')
  if (!IANA_SVC_NAME.test(value) || value.includes('--')) {
    out.push("must contain only lowercase alphanumeric characters or '-', start and end with an alphanumeric character, and not contain '--'")
  }
  if (!/[a-z]/.test(value)) out.push('must contain at least one letter')
  return out
}
