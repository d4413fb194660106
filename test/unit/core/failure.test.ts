import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { failureReason } from '../../../core/failure.js'

describe('failureReason: the kubelet\'s names for a failed step', () => {
  it('a pull: ErrImagePull, then ImagePullBackOff', () => {
    assert.equal(failureReason('pull', 'ImagePullError', false), 'ErrImagePull')
    assert.equal(failureReason('start', 'ImagePullError', true), 'ImagePullBackOff')
  })

  it('an init container: Init:Error, then Init:CrashLoopBackOff', () => {
    assert.equal(failureReason('start', 'InitContainerError', false), 'Init:Error')
    assert.equal(failureReason('start', 'InitContainerError', true), 'Init:CrashLoopBackOff')
  })

  it('any other start: CreateContainerError; a stop: KillContainerError, whatever failed', () => {
    assert.equal(failureReason('start', 'Error', false), 'CreateContainerError')
    assert.equal(failureReason('stop', 'ImagePullError', true), 'KillContainerError')
  })
})
