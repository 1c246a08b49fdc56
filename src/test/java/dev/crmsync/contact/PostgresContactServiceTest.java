package dev.crmsync.contact;

import dev.crmsync.support.TestDatabase;

/** {@link ContactServiceTests} on a real PostgreSQL 17. */
class PostgresContactServiceTest extends ContactServiceTests {

    @Override
    protected TestDatabase database() {
        return TestDatabase.POSTGRES;
    }
}
