package dev.crmsync.contact;

import dev.crmsync.support.TestDatabase;

/** {@link ContactStoreTests} on a real PostgreSQL 17. */
class PostgresContactStoreTest extends ContactStoreTests {

    @Override
    protected TestDatabase database() {
        return TestDatabase.POSTGRES;
    }
}
