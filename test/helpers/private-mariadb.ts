import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import mysql from 'mysql2/promise';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDb, type Db } from '../../db/knex.ts';
import { bootstrap } from '../../server/bootstrap.ts';
import { createApp } from '../../server/app.ts';
import { answerParserErrors, httpServer } from '../../server/http.ts';
import { loadConfig } from '../../core/config.ts';
import { migrateLatest } from '../../db/migrate.ts';
import { freePort } from './load.ts';

/**
 * A MariaDB of a test's own (own port, own data dir under /tmp), to kill, freeze and restart: the shared one on
 * 3306 is never touched. Needs mariadbd and mariadb-install-db (scripts/db/mysql-start.sh installs them) and root
 * (mariadbd runs as the mysql user).
 */
export const MARIADBD = ['/usr/sbin/mariadbd', '/usr/bin/mariadbd'].find((p) => fs.existsSync(p));
export const canRunPrivateMariadb = Boolean(MARIADBD) && process.getuid?.() === 0;

export class PrivateMariadb {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-private-mariadb-'));
  pid = 0;
  constructor(readonly port: number) {}

  get url() {
    return `mysql://mltrack:mltrack@127.0.0.1:${this.port}/mltrack_outage`;
  }

  async start(): Promise<void> {
    const data = path.join(this.dir, 'data');
    if (!fs.existsSync(path.join(data, 'mysql'))) {
      fs.mkdirSync(data, { recursive: true });
      execFileSync('chown', ['-R', 'mysql:mysql', this.dir]);
      execFileSync('mariadb-install-db', ['--no-defaults', '--user=mysql', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore' });
    }
    execFileSync('chown', ['-R', 'mysql:mysql', this.dir]);
    const proc = spawn(
      MARIADBD!,
      [
        '--no-defaults', '--user=mysql', `--datadir=${data}`, `--socket=${path.join(this.dir, 'sock')}`, `--pid-file=${path.join(this.dir, 'pid')}`,
        `--port=${this.port}`, '--bind-address=127.0.0.1', '--skip-name-resolve', `--log-error=${path.join(this.dir, 'err.log')}`,
        '--innodb-buffer-pool-size=64M', '--innodb-log-file-size=48M', '--innodb-flush-log-at-trx-commit=1', '--max-connections=200',
        '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci',
      ],
      { stdio: 'ignore', detached: true },
    );
    proc.unref();
    this.pid = proc.pid!;
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        const c = await mysql.createConnection({ socketPath: path.join(this.dir, 'sock'), user: 'root' });
        await c.query(
          "CREATE DATABASE IF NOT EXISTS mltrack_outage; CREATE USER IF NOT EXISTS 'mltrack'@'127.0.0.1' IDENTIFIED BY 'mltrack'; " +
            "GRANT ALL PRIVILEGES ON mltrack_outage.* TO 'mltrack'@'127.0.0.1'",
        ).catch(async () => {
          await c.query('CREATE DATABASE IF NOT EXISTS mltrack_outage');
          await c.query("CREATE USER IF NOT EXISTS 'mltrack'@'127.0.0.1' IDENTIFIED BY 'mltrack'");
          await c.query("GRANT ALL PRIVILEGES ON mltrack_outage.* TO 'mltrack'@'127.0.0.1'");
        });
        await c.end();
        return;
      } catch {
        if (Date.now() > until) throw new Error(`private mariadbd did not start: ${fs.readFileSync(path.join(this.dir, 'err.log'), 'utf8').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  signal(sig: NodeJS.Signals) {
    process.kill(this.pid, sig);
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    while (alive(this.pid)) await new Promise((r) => setTimeout(r, 20));
  }

  async destroy(): Promise<void> {
    if (this.pid && alive(this.pid)) {
      try {
        process.kill(this.pid, 'SIGCONT');
      } catch {
        // gone
      }
      await this.kill();
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * A private MariaDB on a free port, migrated (with no statement bound, as `npm start` migrates), a data dir of
 * mltrack's own, and a knex pool bounded by `timeoutMs`, as a server's would be: what an outage test starts from.
 */
export async function migratedPrivateMariadb(name: string, timeoutMs: number) {
  const maria = new PrivateMariadb(await freePort());
  await maria.start();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `mltrack-${name}-`));
  const migrator = createDb(maria.url, dataDir, { timeoutMs: 0 });
  await migrateLatest(migrator);
  await migrator.destroy();
  return { maria, dataDir, db: createDb(maria.url, dataDir, { timeoutMs }) };
}

/** mltrack's app on `db` (bootstrapped with `token`), as a server with this database timeout runs it, on a free port. */
export async function serveOutageApp(db: Db, dataDir: string, token: string, timeoutMs: number): Promise<{ server: Server; port: number }> {
  await bootstrap(db, token);
  const config = loadConfig({ DATA_DIR: dataDir, MLTRACK_DB_TIMEOUT_MS: String(timeoutMs) });
  const app = createApp({ db, config, log: () => {} });
  const server = await new Promise<Server>((resolve) => {
    const s = httpServer(app).listen(0, '127.0.0.1', () => resolve(s));
  });
  answerParserErrors(server);
  return { server, port: (server.address() as AddressInfo).port };
}
