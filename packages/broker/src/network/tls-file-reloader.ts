// Certificate renewal without a restart: the keystore and truststore files of a TLS listener are
// polled (fs.watchFile: it stats the path, so a file replaced by rename is seen as well as one
// rewritten in place), and when one changed the listener's settings are read again and handed to
// `apply` (a Kafka listener replaces its server's secure context; the controller listener replaces
// both the gRPC server's and the one its clients dial peers with). New connections get the new
// certificate and trust; open connections keep the session they negotiated. A renewal that cannot be used (a key that does not match, a file
// caught half written) is logged and the listener keeps serving what it had; the next change is
// tried again. Replace the files by renaming a complete file over them to avoid the half-written case.

import { type Stats, unwatchFile, watchFile } from 'node:fs';
import type { ListenerTls } from '../config/listener-tls.js';
import type { Logger } from '../logging.js';

/** How often the keystore and truststore files are checked for a change. */
export const tlsFilesCheckIntervalMs = 5_000;

export class TlsFileReloader {
  private readonly watched: string[] = [];

  constructor(
    private readonly apply: (fresh: ListenerTls) => void,
    private readonly listenerName: string,
    private readonly tls: ListenerTls,
    private readonly logger: Logger,
  ) {}

  start(): void {
    for (const path of this.tls.files) {
      watchFile(path, { interval: tlsFilesCheckIntervalMs, persistent: false }, (current, previous) => {
        if (changed(current, previous)) this.reload(path);
      });
      this.watched.push(path);
    }
  }

  stop(): void {
    for (const path of this.watched) unwatchFile(path);
    this.watched.length = 0;
  }

  private reload(changedPath: string): void {
    let fresh: ListenerTls;
    try {
      fresh = this.tls.reload();
    } catch (error) {
      this.logger.warn(
        { listener: this.listenerName, file: changedPath, reason: (error as Error).message },
        'TLS files changed but cannot be used; still serving the previous certificate',
      );
      return;
    }
    this.apply(fresh);
    this.logger.info(
      { listener: this.listenerName, file: changedPath, keystore: fresh.description },
      'TLS keystore and truststore reloaded: new connections use them',
    );
  }
}

function changed(current: Stats, previous: Stats): boolean {
  // A file that is gone stats as all zeros: nothing to load until it is back.
  if (current.mtimeMs === 0 && current.size === 0) return false;
  return (
    current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino
  );
}
