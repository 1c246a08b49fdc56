package dev.crmsync;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

@SpringBootApplication
@ConfigurationPropertiesScan
public class CrmContactSync {

    public static void main(String[] args) {
        SpringApplication.run(CrmContactSync.class, args);
    }
}
