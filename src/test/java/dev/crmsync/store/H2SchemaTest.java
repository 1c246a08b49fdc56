package dev.crmsync.store;

import dev.crmsync.support.TestDatabase;

/** {@link SchemaTests} on H2 in PostgreSQL mode, the embedded default database. */
class H2SchemaTest extends SchemaTests {

    @Override
    protected TestDatabase database() {
        return TestDatabase.H2;
    }
}
