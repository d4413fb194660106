import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { buildConfigMap } from '../../../cli/commands/create.js'
import { tempDir } from '../../helpers/temp-dir.js'

describe('create configmap builds what kubectl builds', () => {
  it('literals, a file (named, or KEY=PATH), a directory (valid names only), binary content as binaryData', async () => {
    const dir = await tempDir('dm-create-')
    await writeFile(join(dir, 'fluent-bit.conf'), '[SERVICE]\n')
    await mkdir(join(dir, 'conf.d'))
    await writeFile(join(dir, 'conf.d', 'a.conf'), 'a\n')
    await writeFile(join(dir, 'conf.d', 'not valid'), 'x')
    await mkdir(join(dir, 'conf.d', 'sub'))
    await writeFile(join(dir, 'logo.bin'), Buffer.from([0xff, 0xfe, 0x00]))
    const cm = await buildConfigMap('fluent-bit', { namespace: 'logging', fromLiteral: ['LOG_LEVEL=info', 'EMPTY='], fromFile: [join(dir, 'fluent-bit.conf'), `main.conf=${join(dir, 'fluent-bit.conf')}`, join(dir, 'conf.d'), join(dir, 'logo.bin')] })
    assert.deepEqual(cm, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'fluent-bit', namespace: 'logging' },
      data: { LOG_LEVEL: 'info', EMPTY: '', 'fluent-bit.conf': '[SERVICE]\n', 'main.conf': '[SERVICE]\n', 'a.conf': 'a\n' },
      binaryData: { 'logo.bin': Buffer.from([0xff, 0xfe, 0x00]).toString('base64') },
    })
  })

  const bad: [string, Parameters<typeof buildConfigMap>[1], RegExp][] = [
    ['a literal without =', { fromLiteral: ['novalue'] }, /--from-literal novalue: use KEY=VALUE/],
    ['a key given twice', { fromLiteral: ['a=1', 'a=2'] }, /cannot add key "a", another key by that name already exists/],
    ['a key that is not a config key', { fromLiteral: ['a/b=1'] }, /"a\/b" is not a valid key name/],
    ['a file that does not exist', { fromFile: ['/nonexistent/x'] }, /--from-file \/nonexistent\/x: no such file or directory/],
  ]
  for (const [name, opts, re] of bad) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(buildConfigMap('c', opts), re)
    })
  }

  it('refuses a name that is not a DNS subdomain, with the field', async () => {
    await assert.rejects(buildConfigMap('Bad_Name', {}), /configmap "Bad_Name": metadata\.name: Invalid value/)
  })
})
