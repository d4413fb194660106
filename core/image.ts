// Image reference helpers. No I/O here.

/** imageTag returns the tag of an image reference, '' when it has none; digests count as pinned. */
export function imageTag(image: string): { tag: string; digest: boolean } {
  const at = image.indexOf('@')
  if (at >= 0) return { tag: '', digest: true }
  const slash = image.lastIndexOf('/')
  const colon = image.lastIndexOf(':')
  return colon > slash ? { tag: image.slice(colon + 1), digest: false } : { tag: '', digest: false }
}

/** defaultPullPolicy is Kubernetes' rule: `:latest` or no tag -> Always, else IfNotPresent. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const { tag, digest } = imageTag(image)
  if (digest) return 'IfNotPresent'
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent'
}
