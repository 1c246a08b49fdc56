package dev.crmsync.security;

import java.io.IOException;

import dev.crmsync.api.ApiProblem;
import dev.crmsync.api.Caller;
import dev.crmsync.api.Problems;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;
import org.springframework.security.authentication.AuthenticationProvider;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.core.authority.AuthorityUtils;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.authentication.www.BasicAuthenticationFilter;
import org.springframework.security.web.context.RequestAttributeSecurityContextRepository;
import org.springframework.security.web.firewall.RequestRejectedHandler;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Who may call what: {@code /api/**} with the API key, {@code /healthz} and {@code /actuator/health}
 * open, the rest of actuator (Prometheus, Jolokia, Hawtio) with the admin's HTTP Basic login.
 */
@Configuration
public class SecurityConfig {

    @Bean
    @Order(1)
    SecurityFilterChain api(HttpSecurity http, Credentials credentials, Problems problems) throws Exception {
        return http.securityMatcher("/api/**")
                .csrf(csrf -> csrf.disable())
                .sessionManagement(session -> session.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .addFilterBefore(new ApiKeyFilter(credentials), BasicAuthenticationFilter.class)
                .authorizeHttpRequests(requests -> requests
                        // the request was authorised when it came in; Camel answers it on an async dispatch
                        .dispatcherTypeMatchers(DispatcherType.ASYNC, DispatcherType.ERROR).permitAll()
                        .anyRequest().hasRole("API"))
                .exceptionHandling(errors -> errors
                        .authenticationEntryPoint((request, response, e) -> {
                            response.setHeader("WWW-Authenticate", "Bearer");
                            problems.write(response, new ApiProblem(401, "send the API key as X-Api-Key or "
                                    + "Authorization: Bearer (crmsync.api-key)"), request.getRequestURI());
                        })
                        .accessDeniedHandler((request, response, e) -> problems.write(response,
                                new ApiProblem(403, "this key may not call " + request.getRequestURI()),
                                request.getRequestURI())))
                .build();
    }

    /**
     * {@code /webhooks/**}: each provider's receiver authenticates its own calls (Pipedrive's HTTP Basic
     * credentials, signatures), so Spring Security must not read their Authorization header as the admin's.
     */
    @Bean
    @Order(0)
    SecurityFilterChain webhooks(HttpSecurity http) throws Exception {
        return http.securityMatcher("/webhooks/**")
                .csrf(csrf -> csrf.disable())
                .sessionManagement(session -> session.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .authorizeHttpRequests(requests -> requests.anyRequest().permitAll())
                .build();
    }

    @Bean
    @Order(2)
    SecurityFilterChain operations(HttpSecurity http, Problems problems) throws Exception {
        AuthenticationEntryPoint login = (request, response, e) -> {
            response.setHeader("WWW-Authenticate", "Basic realm=\"crm-contact-sync\"");
            problems.write(response, new ApiProblem(401, "log in as the admin with HTTP Basic "
                    + "(crmsync.admin.username and CRMSYNC_ADMIN_PASSWORD)"), request.getRequestURI());
        };
        return http
                // Jolokia takes POSTs from Hawtio; Basic auth on every call, no session cookie to forge
                .csrf(csrf -> csrf.disable())
                .sessionManagement(session -> session.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .httpBasic(basic -> basic.realmName("crm-contact-sync").authenticationEntryPoint(login))
                .exceptionHandling(errors -> errors
                        .authenticationEntryPoint(login)
                        .accessDeniedHandler((request, response, e) -> problems.write(response,
                                new ApiProblem(403, "the admin's login is needed for " + request.getRequestURI()),
                                request.getRequestURI())))
                .authorizeHttpRequests(requests -> requests
                        .dispatcherTypeMatchers(DispatcherType.ASYNC, DispatcherType.ERROR).permitAll()
                        .requestMatchers("/healthz", "/actuator/health", "/actuator/health/**").permitAll()
                        .requestMatchers("/actuator/**").hasRole("ADMIN")
                        .anyRequest().permitAll())
                .build();
    }

    /**
     * A URL Spring Security's firewall refuses ({@code ..;}, {@code %25}, {@code %2F}, a backslash, a
     * NUL...): a 400 problem that says which rule, not the servlet container's error page.
     */
    @Bean
    RequestRejectedHandler requestRejected(Problems problems) {
        return (request, response, e) -> {
            response.setHeader("Connection", "close");
            problems.write(response, ApiProblem.badRequest("the URL was refused: " + e.getMessage()
                    + "; percent-encode it once and leave out path parameters, '..' and encoded slashes"), null);
        };
    }

    /** The admin's HTTP Basic login; being a bean, it also stops Spring Boot from inventing a user. */
    @Bean
    AuthenticationProvider adminLogin(Credentials credentials) {
        return new AuthenticationProvider() {
            @Override
            public org.springframework.security.core.Authentication authenticate(
                    org.springframework.security.core.Authentication authentication) {
                if (credentials.adminUsername().equals(authentication.getName())
                        && credentials.isAdminPassword((CharSequence) authentication.getCredentials())) {
                    return UsernamePasswordAuthenticationToken.authenticated(authentication.getName(), null,
                            AuthorityUtils.createAuthorityList("ROLE_ADMIN"));
                }
                throw new BadCredentialsException("bad admin credentials");
            }

            @Override
            public boolean supports(Class<?> type) {
                return UsernamePasswordAuthenticationToken.class.isAssignableFrom(type);
            }
        };
    }

    /** Authenticates a request that presents the API key as X-Api-Key or as a bearer token. */
    static final class ApiKeyFilter extends OncePerRequestFilter {

        private static final RequestAttributeSecurityContextRepository ON_REQUEST = new RequestAttributeSecurityContextRepository();

        private final Credentials credentials;

        ApiKeyFilter(Credentials credentials) {
            this.credentials = credentials;
        }

        @Override
        protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
                throws ServletException, IOException {
            String key = request.getHeader("X-Api-Key");
            String authorization = request.getHeader("Authorization");
            if (key == null && authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
                key = authorization.substring(7).strip();
            }
            if (credentials.isApiKey(key)) {
                SecurityContextHolder.getContext().setAuthentication(UsernamePasswordAuthenticationToken.authenticated(
                        "api-key", null, AuthorityUtils.createAuthorityList("ROLE_API")));
                // the route runs on a Camel thread: it reads who called from the request (api/Caller)
                ON_REQUEST.saveContext(SecurityContextHolder.getContext(), request, response);
            }
            chain.doFilter(request, response);
        }
    }
}
