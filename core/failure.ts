// What a failed step of a copy is called, as the kubelet names it: the reason `get pods`,
// events and `rollout status` show. Pure.

/** failureReason names a failed pull, start or stop of a copy; `again` when its last attempt failed too (it is backed off). */
export function failureReason(during: 'pull' | 'start' | 'stop', errorName: string, again: boolean): string {
  if (during === 'stop') return 'KillContainerError'
  if (errorName === 'ImagePullError') return again ? 'ImagePullBackOff' : 'ErrImagePull'
  if (errorName === 'InitContainerError') return again ? 'Init:CrashLoopBackOff' : 'Init:Error'
  return 'CreateContainerError'
}
