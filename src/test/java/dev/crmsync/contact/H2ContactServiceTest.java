package dev.crmsync.contact;

import dev.crmsync.support.TestDatabase;

/** {@link ContactServiceTests} on H2 in PostgreSQL mode, the embedded default database. */
class H2ContactServiceTest extends ContactServiceTests {

    @Override
    protected TestDatabase database() {
        return TestDatabase.H2;
    }
}
