// A ContainerRuntime for unit tests of the reconciler and its workers that does nothing and
// has nothing: no containers, every call answered at once. A test spreads it and scripts
// only the calls it is about.

import type { ContainerRuntime } from '../../agent/runtime/runtime.js'

/** quietRuntime is a runtime with no containers whose every call succeeds at once. */
export function quietRuntime(): ContainerRuntime {
  return {
    list: async () => [],
    states: async () => [],
    pullImages: async () => undefined,
    hasImages: async () => true,
    startPod: async () => undefined,
    preparePod: async () => false,
    refreshFiles: async () => undefined,
    remove: async () => undefined,
    stopContainer: async () => undefined,
    exec: async () => 0,
    address: async () => undefined,
    watch: () => undefined,
    stop: () => undefined,
  }
}
