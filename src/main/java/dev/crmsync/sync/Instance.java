package dev.crmsync.sync;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.InitializingBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.namedparam.NamedParameterJdbcTemplate;
import org.springframework.stereotype.Component;

/**
 * This installation's name on its claims (inbox, outbox): {@code crmsync.instance-id}, by default the
 * host name and the configured server port, which stay the same across restarts of one installation
 * and differ between instances sharing a database (on different hosts, or on different ports of one).
 * At start-up, before anything drains or delivers, the claims a previous life of this instance left
 * (a crash, a kill) are taken back at once; other instances' claims keep their leases.
 */
@Component
public class Instance implements InitializingBean {

    private static final Logger LOG = LoggerFactory.getLogger(Instance.class);
    /** The width of {@code claimed_by}. */
    static final int MAX_LENGTH = 64;

    private final String id;
    private final NamedParameterJdbcTemplate jdbc;

    public Instance(@Value("${crmsync.instance-id:}") String configured, @Value("${server.port:8080}") int port,
                    NamedParameterJdbcTemplate jdbc) {
        this.id = id(configured, hostName(), port);
        this.jdbc = jdbc;
    }

    /** The configured id, else {@code host:port}; cut to the claim column's width. */
    static String id(String configured, String host, int port) {
        String id = configured != null && !configured.isBlank() ? configured.strip() : host + ":" + port;
        return id.length() > MAX_LENGTH ? id.substring(0, MAX_LENGTH) : id;
    }

    public String id() {
        return id;
    }

    @Override
    public void afterPropertiesSet() {
        Map<String, String> worker = Map.of("worker", id);
        int inbox = jdbc.update("UPDATE inbox SET state = 'pending', claimed_by = NULL WHERE state = 'claimed' "
                + "AND claimed_by = :worker", worker);
        // their try stays counted: a create that may have reached the system looks the person up first
        int outbox = jdbc.update("UPDATE outbox SET state = 'pending', claimed_by = NULL WHERE state = 'claimed' "
                + "AND claimed_by = :worker", worker);
        if (inbox + outbox > 0) {
            LOG.warn("Instance {} took back what its previous run had claimed and not finished: {} inbox changes, {} deliveries",
                    id, inbox, outbox);
        }
    }

    private static String hostName() {
        String fromEnvironment = System.getenv("HOSTNAME");
        if (fromEnvironment != null && !fromEnvironment.isBlank()) {
            return fromEnvironment;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
