package dev.crmsync.sync;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The sync's own thread pools: daemon threads, and a stop that lets the work in hand finish before
 * it interrupts, because interrupting a thread inside H2 closes its database file.
 */
final class Pools {

    private Pools() {
    }

    static ExecutorService fixed(String name, int threads) {
        return Executors.newFixedThreadPool(threads, daemon(name));
    }

    static ExecutorService cached(String name) {
        return Executors.newCachedThreadPool(daemon(name));
    }

    static void finish(ExecutorService pool, Duration patience) throws InterruptedException {
        pool.shutdown();
        if (!pool.awaitTermination(patience.toMillis(), TimeUnit.MILLISECONDS)) {
            pool.shutdownNow();
        }
    }

    private static ThreadFactory daemon(String name) {
        return task -> {
            Thread thread = new Thread(task, name);
            thread.setDaemon(true);
            return thread;
        };
    }
}
