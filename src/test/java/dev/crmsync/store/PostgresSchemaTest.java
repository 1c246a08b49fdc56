package dev.crmsync.store;

import dev.crmsync.support.TestDatabase;

/** {@link SchemaTests} on a real PostgreSQL 17. */
class PostgresSchemaTest extends SchemaTests {

    @Override
    protected TestDatabase database() {
        return TestDatabase.POSTGRES;
    }
}
