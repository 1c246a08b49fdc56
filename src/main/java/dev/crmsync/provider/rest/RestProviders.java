package dev.crmsync.provider.rest;

import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.beans.factory.support.BeanDefinitionRegistryPostProcessor;
import org.springframework.beans.factory.support.RootBeanDefinition;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.EnvironmentAware;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * Registers a {@code <name>Client} bean for every {@code crmsync.providers.<name>} of type rest, so a
 * provider's routes name their client as a template parameter and adding one is configuration only.
 */
@Component
public class RestProviders implements BeanDefinitionRegistryPostProcessor, EnvironmentAware {

    private Environment environment;

    @Override
    public void setEnvironment(Environment environment) {
        this.environment = environment;
    }

    @Override
    public void postProcessBeanDefinitionRegistry(BeanDefinitionRegistry registry) {
        Map<String, RestProviderProperties> providers = Binder.get(environment)
                .bind("crmsync.providers", Bindable.mapOf(String.class, RestProviderProperties.class))
                .orElse(Map.of());
        providers.forEach((name, properties) -> {
            if (!"rest".equals(properties.type())) {
                return;
            }
            RootBeanDefinition definition = new RootBeanDefinition(RestCrmClient.class);
            definition.setInstanceSupplier(() -> new RestCrmClient(name, properties,
                    ((ConfigurableListableBeanFactory) registry).getBean(ObjectMapper.class),
                    ((ConfigurableListableBeanFactory) registry).getBean(MeterRegistry.class)));
            registry.registerBeanDefinition(name + "Client", definition);
        });
    }

    @Override
    public void postProcessBeanFactory(ConfigurableListableBeanFactory beanFactory) {
    }
}
