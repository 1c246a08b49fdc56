package dev.crmsync.support;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInstance;

/**
 * A store test that runs once per database: each subclass names its {@link TestDatabase}, gets one
 * {@link StoreContext} for the class and empty tables before every test.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class OnEachDatabase {

    protected StoreContext store;

    protected abstract TestDatabase database();

    /** Called once the store is up, to pick the beans a test class uses. */
    protected void ready() {
    }

    @BeforeAll
    void startStore() {
        store = StoreContext.start(database());
        ready();
    }

    @AfterAll
    void stopStore() {
        if (store != null) {
            store.close();
        }
    }

    @BeforeEach
    void emptyStore() {
        store.clear();
    }
}
