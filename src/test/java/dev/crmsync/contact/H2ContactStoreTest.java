package dev.crmsync.contact;

import dev.crmsync.support.TestDatabase;

/** {@link ContactStoreTests} on H2 in PostgreSQL mode, the embedded default database. */
class H2ContactStoreTest extends ContactStoreTests {

    @Override
    protected TestDatabase database() {
        return TestDatabase.H2;
    }
}
