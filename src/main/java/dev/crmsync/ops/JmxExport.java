package dev.crmsync.ops;

import java.lang.management.ManagementFactory;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jmx.export.MBeanExporter;
import org.springframework.jmx.export.annotation.AnnotationMBeanExporter;

/**
 * Exports the beans annotated with Spring's {@code @ManagedResource} (such as {@link SyncOperations})
 * to the platform MBean server, where Jolokia, Hawtio and JConsole find Camel's MBeans too. Only those
 * beans: Spring Boot's own exporter ({@code spring.jmx.enabled}) would also take every bean that
 * happens to implement an MBean interface. It stays off; with this exporter present it would not be made.
 */
@Configuration(proxyBeanMethods = false)
public class JmxExport {

    @Bean
    AnnotationMBeanExporter mbeanExporter() {
        AnnotationMBeanExporter exporter = new AnnotationMBeanExporter();
        exporter.setAutodetectMode(MBeanExporter.AUTODETECT_ASSEMBLER);
        exporter.setServer(ManagementFactory.getPlatformMBeanServer());
        return exporter;
    }
}
