package dev.crmsync.support;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.springframework.boot.test.context.SpringBootTest;

/**
 * The whole service on a random port with its routes from routes/, fixed test credentials and a
 * private in-memory H2 database (PostgreSQL mode, as in production).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "crmsync.api-key=" + ServiceTest.API_KEY,
        "crmsync.admin.password=" + ServiceTest.ADMIN_PASSWORD,
        "spring.datasource.url=jdbc:h2:mem:crmsync-${random.uuid};MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;"
                + "DEFAULT_NULL_ORDERING=HIGH;DB_CLOSE_DELAY=-1",
        "logging.level.root=WARN",
        // a test class's simulators stop before its service: do not wait out retries against them
        "camel.main.shutdown-timeout=5"})
public @interface ServiceTest {
    String API_KEY = "test-api-key-0123456789";
    String ADMIN_PASSWORD = "test-admin-password-0123";
}
