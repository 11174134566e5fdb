// One metadata shell session: a current node and the commands ls / cat / tree / cd / pwd / help /
// exit, each answered as a value (text, error, exit code) so the runner decides where it goes.
// The tree comes from `load()` per command, so an online shell shows the cluster as it is now.

import { cat, findNode, ls, type MetadataNode, pathComponents, tree } from '@gregor/metadata';

export interface CommandResult {
  readonly output?: string;
  readonly error?: string;
  /** 0 ok, 1 no such node or source unreachable, 2 usage. */
  readonly exitCode: 0 | 1 | 2;
  readonly exit?: boolean;
}

/** The source could not be read (node down, wrong address...): exit code 1, not a bug. */
export class MetadataUnavailableError extends Error {
  override readonly name = 'MetadataUnavailableError';
}

export const sessionHelp = [
  'ls [path]     list the children of a node',
  'cat <path>    print the data of a node',
  'tree [path]   print the subtree',
  'cd [path]     change the current node (no path: /)',
  'pwd           print the current node',
  'exit          leave the shell',
].join('\n');

/** Splits a command line into words (paths and topic names contain no spaces). */
export function words(line: string): string[] {
  return line
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '');
}

export class MetadataShellSession {
  private cwd = '/';

  constructor(private readonly load: () => Promise<MetadataNode>) {}

  get currentPath(): string {
    return this.cwd;
  }

  /** Absolute, normalised path of `path` relative to the current node. */
  resolve(path: string | undefined): string {
    const joined = path === undefined ? this.cwd : path.startsWith('/') ? path : `${this.cwd}/${path}`;
    return `/${pathComponents(joined).join('/')}`;
  }

  async run(commandWords: readonly string[]): Promise<CommandResult> {
    const [name, ...rest] = commandWords;
    if (name === undefined || name.startsWith('#')) return { exitCode: 0 };
    if (rest.length > 1) return { error: `${name}: too many arguments`, exitCode: 2 };
    const argument = rest[0];
    switch (name) {
      case 'exit':
      case 'quit':
        return { exitCode: 0, exit: true };
      case 'help':
        return { output: sessionHelp, exitCode: 0 };
      case 'pwd':
        return { output: this.cwd, exitCode: 0 };
      case 'cd':
        return this.withTree((root) => {
          const target = this.resolve(argument ?? '/');
          if (findNode(root, target) === undefined) return { error: `${target}: no such node`, exitCode: 1 };
          this.cwd = target;
          return { exitCode: 0 };
        });
      case 'ls':
        return this.withTree((root) => {
          const listed = ls(root, this.resolve(argument));
          return 'error' in listed
            ? { error: listed.error, exitCode: 1 }
            : { output: listed.join('\n'), exitCode: 0 };
        });
      case 'cat':
        if (argument === undefined) return { error: 'cat: which path?', exitCode: 2 };
        return this.withTree((root) => {
          const data = cat(root, this.resolve(argument));
          return typeof data === 'string'
            ? { output: data, exitCode: 0 }
            : { error: data.error, exitCode: 1 };
        });
      case 'tree':
        return this.withTree((root) => {
          const text = tree(root, this.resolve(argument));
          return typeof text === 'string'
            ? { output: text, exitCode: 0 }
            : { error: text.error, exitCode: 1 };
        });
      default:
        return { error: `unknown command '${name}' (try help)`, exitCode: 2 };
    }
  }

  private async withTree(command: (root: MetadataNode) => CommandResult): Promise<CommandResult> {
    let root: MetadataNode;
    try {
      root = await this.load();
    } catch (error) {
      if (error instanceof MetadataUnavailableError) return { error: error.message, exitCode: 1 };
      throw error;
    }
    return command(root);
  }
}
