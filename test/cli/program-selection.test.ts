// The command tree is built only as far as the command line names a command (cli/program.ts): each command and
// alias selects exactly the command the whole tree would run, with the same options; anything else (no
// command, help, an unknown or misspelt name) gets the whole tree, which help and suggestions need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { CliContext } from '../../src/cli/cli-context.js';
import { buildProgram } from '../../src/cli/program.js';

const ctx = () => new CliContext({ stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false, color: false, env: {} }, new AbortController().signal);
const shape = (c: Command) => ({ name: c.name(), aliases: c.aliases(), options: c.options.map((o) => o.flags), commands: c.commands.map((s) => s.name()) });

test('every command and alias selects the command of the whole tree, and only it', () => {
  const full = buildProgram(ctx());
  let checked = 0;
  for (const top of full.commands) {
    for (const name of [top.name(), ...top.aliases()]) {
      if (top.commands.length > 0 && top.name() === 'image') {
        for (const sub of top.commands) {
          for (const subName of [sub.name(), ...sub.aliases()]) {
            const p = buildProgram(ctx(), ['--root', '/tmp/x', name, '--debug', subName, 'ARG']);
            assert.deepEqual(p.commands.map((c) => c.name()), ['image'], `${name} ${subName}`);
            assert.deepEqual(p.commands[0]!.commands.map(shape), [shape(sub)], `${name} ${subName}`);
            checked++;
          }
        }
        continue;
      }
      if (top.name() === 'completion') continue; // it lists the whole tree: built with it
      const p = buildProgram(ctx(), [name, 'ARG']);
      assert.deepEqual(p.commands.map(shape), [shape(top)], name);
      checked++;
    }
  }
  assert.ok(checked > 40, `${checked} command lines checked`);
});

test('without a plain command name the whole tree is built', () => {
  const all = buildProgram(ctx()).commands.length;
  for (const argv of [[], ['--help'], ['help', 'run'], ['image'], ['image', '--help'], ['image', 'rpul', 'x'], ['rn'], ['completion', 'bash'], ['--', 'run']]) {
    assert.equal(buildProgram(ctx(), argv).commands.length, all, JSON.stringify(argv));
  }
  // a value of a program option is not a command name
  assert.deepEqual(buildProgram(ctx(), ['--root', 'run', 'image', 'ls']).commands.map((c) => c.name()), ['image']);
});
