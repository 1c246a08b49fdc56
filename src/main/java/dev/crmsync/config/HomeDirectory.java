package dev.crmsync.config;

import java.nio.file.Path;
import java.util.Map;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.env.EnvironmentPostProcessor;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Lets the jar run from any directory: {@code --crmsync.home=DIR} (or {@code CRMSYNC_HOME}) names the
 * folder that holds {@code application.yaml}, {@code routes/} and {@code mappings/}. Spring Boot only
 * looks in the working directory on its own, so the home's {@code application.yaml} is added as an
 * extra config location before config files are read.
 */
public class HomeDirectory implements EnvironmentPostProcessor, Ordered {

    @Override
    public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
        String home = environment.getProperty("crmsync.home");
        if (home == null || home.isBlank()) {
            return;
        }
        String dir = Path.of(home).toAbsolutePath().normalize().toString();
        environment.getPropertySources().addLast(new MapPropertySource("crmsync-home", Map.of(
                "spring.config.additional-location", "optional:file:" + dir + "/")));
    }

    @Override
    public int getOrder() {
        // before Spring Boot's ConfigDataEnvironmentPostProcessor reads the config files
        return Ordered.HIGHEST_PRECEDENCE;
    }
}
