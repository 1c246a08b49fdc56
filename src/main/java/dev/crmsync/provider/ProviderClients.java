package dev.crmsync.provider;

import java.time.Clock;
import java.util.Map;
import java.util.function.Supplier;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crmsync.api.Problems;
import dev.crmsync.config.CrmSyncProperties;
import dev.crmsync.sync.Inbox;
import dev.crmsync.mapping.Mappings;
import dev.crmsync.provider.hubspot.HubSpotClient;
import dev.crmsync.provider.hubspot.HubSpotProviderProperties;
import dev.crmsync.provider.hubspot.HubSpotWebhookIntake;
import dev.crmsync.provider.pipedrive.PipedriveClient;
import dev.crmsync.provider.pipedrive.PipedriveProviderProperties;
import dev.crmsync.provider.pipedrive.PipedriveWebhook;
import dev.crmsync.provider.rest.RestCrmClient;
import dev.crmsync.provider.rest.RestProviderProperties;
import dev.crmsync.provider.salesforce.SalesforceClient;
import dev.crmsync.provider.salesforce.SalesforceProviderProperties;
import dev.crmsync.sync.Inbox;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.salesforce.SalesforceComponent;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.beans.factory.support.BeanDefinitionRegistryPostProcessor;
import org.springframework.beans.factory.support.RootBeanDefinition;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.EnvironmentAware;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Registers a {@code <name>Client} bean for every {@code crmsync.providers.<name>}, by its type, so a
 * provider's routes name their client as a template parameter and adding one is configuration only.
 * A Salesforce provider also gets its own camel-salesforce component, named like the provider; a
 * HubSpot provider its webhook intake, {@code <name>Webhooks}; a Pipedrive provider its webhook
 * receiver, {@code <name>Webhook}.
 */
@Component
public class ProviderClients implements BeanDefinitionRegistryPostProcessor, EnvironmentAware {

    private Environment environment;

    @Override
    public void setEnvironment(Environment environment) {
        this.environment = environment;
    }

    @Override
    public void postProcessBeanDefinitionRegistry(BeanDefinitionRegistry registry) {
        ConfigurableListableBeanFactory beans = (ConfigurableListableBeanFactory) registry;
        Binder binder = Binder.get(environment);
        Map<String, CrmSyncProperties.Provider> providers = binder
                .bind("crmsync.providers", Bindable.mapOf(String.class, CrmSyncProperties.Provider.class))
                .orElse(Map.of());
        providers.forEach((name, provider) -> {
            String prefix = "crmsync.providers." + name;
            String type = provider.type() == null ? "rest" : provider.type();
            switch (type) {
                case "rest" -> {
                    RestProviderProperties properties = binder.bind(prefix, RestProviderProperties.class).get();
                    register(registry, name + "Client", RestCrmClient.class, () -> new RestCrmClient(name, properties,
                            beans.getBean(ObjectMapper.class), beans.getBean(MeterRegistry.class)));
                }
                case "salesforce" -> {
                    SalesforceProviderProperties properties = binder.bind(prefix, SalesforceProviderProperties.class).get();
                    register(registry, name, SalesforceComponent.class, () -> SalesforceClient.component(properties));
                    Supplier<ProducerTemplate> camel = new Supplier<>() {
                        private volatile ProducerTemplate template;

                        @Override
                        public ProducerTemplate get() {
                            if (template == null) {
                                synchronized (this) {
                                    if (template == null) {
                                        CamelContext context = beans.getBean(CamelContext.class);
                                        // started here, once: two polls resolving it at once found it half started
                                        context.getComponent(name);
                                        template = context.createProducerTemplate();
                                    }
                                }
                            }
                            return template;
                        }
                    };
                    register(registry, name + "Client", SalesforceClient.class, () -> new SalesforceClient(name, properties,
                            beans.getBean(Mappings.class), beans.getBean(ProviderPauses.class), beans.getBean(ObjectMapper.class),
                            beans.getBean(MeterRegistry.class), camel));
                }
                case "hubspot" -> {
                    HubSpotProviderProperties properties = binder.bind(prefix, HubSpotProviderProperties.class).get();
                    register(registry, name + "Client", HubSpotClient.class, () -> new HubSpotClient(name, properties,
                            beans.getBean(Mappings.class), beans.getBean(ObjectMapper.class), beans.getBean(MeterRegistry.class)));
                    register(registry, name + "Webhooks", HubSpotWebhookIntake.class, () -> new HubSpotWebhookIntake(name,
                            properties, beans.getBean(Inbox.class), beans.getBean(TransactionTemplate.class),
                            beans.getBean(ObjectMapper.class), beans.getBean(Clock.class), beans.getBean(MeterRegistry.class),
                            beans.getBean(ProviderActivity.class)));
                }
                                case "pipedrive" -> {
                    PipedriveProviderProperties properties = binder.bind(prefix, PipedriveProviderProperties.class).get();
                    register(registry, name + "Client", PipedriveClient.class, () -> new PipedriveClient(name, properties,
                            beans.getBean(ProviderPauses.class), beans.getBean(ObjectMapper.class), beans.getBean(MeterRegistry.class)));
                    // the receiver of its webhooks, for the route POST /webhooks/<name>
                    register(registry, name + "Webhook", PipedriveWebhook.class, () -> new PipedriveWebhook(name, properties,
                            beans.getBean(Inbox.class), beans.getBean(Mappings.class), beans.getBean(Problems.class),
                            beans.getBean(ObjectMapper.class), beans.getBean(MeterRegistry.class), beans.getBean(Clock.class),
                            beans.getBean(ProviderActivity.class)));
                }
                default -> throw new IllegalStateException(prefix + ".type is '" + type + "'; known types: rest, salesforce, hubspot, pipedrive");
            }
        });
    }

    private static <T> void register(BeanDefinitionRegistry registry, String name, Class<T> type, Supplier<T> supplier) {
        RootBeanDefinition definition = new RootBeanDefinition(type);
        definition.setInstanceSupplier(supplier);
        registry.registerBeanDefinition(name, definition);
    }

    @Override
    public void postProcessBeanFactory(ConfigurableListableBeanFactory beanFactory) {
    }
}
