import type { Knex } from 'knex';

/**
 * Table options every migration uses. On MySQL/MariaDB: InnoDB, utf8mb4, and a binary NO PAD collation, because
 * MLflow names and keys are case-sensitive and must not collide on trailing spaces — `utf8mb4_bin` is PAD SPACE
 * ('exp' = 'exp '), so it is only the fallback for a server without a NO PAD binary collation. Nothing on SQLite.
 */
export async function tableOptions(knex: Knex): Promise<(t: Knex.CreateTableBuilder) => void> {
  if (knex.client.config.client !== 'mysql2') return () => {};
  const collation = await binaryCollation(knex);
  return (t) => {
    t.charset('utf8mb4');
    t.collate(collation);
    t.engine('InnoDB');
  };
}

/** MariaDB: utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin; else utf8mb4_bin. */
async function binaryCollation(knex: Knex): Promise<string> {
  const [rows] = await knex.raw("SHOW COLLATION WHERE Collation IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')");
  const names = new Set((rows as { Collation: string }[]).map((r) => r.Collation));
  return names.has('utf8mb4_nopad_bin') ? 'utf8mb4_nopad_bin' : names.has('utf8mb4_0900_bin') ? 'utf8mb4_0900_bin' : 'utf8mb4_bin';
}
