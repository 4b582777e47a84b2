// Placeholder entry; the commander tree is built in cli/program.ts.
process.stdout.write('ctr-remote\n');
