// The Calimatic guide §4 configuration (NextAuth.js v5), with the issuer from the environment
// and `checks` added (see below).
import NextAuth from "next-auth";

export const { handlers, signIn, signOut, auth } = NextAuth({
  providers: [
    {
      id: "calimatic",
      name: "Calimatic",
      type: "oidc",
      issuer: process.env.OIDC_ISSUER,
      // Auth.js sends only PKCE by default; this provider also requires `state` (CSRF protection
      // the Clavex guide promises), so ask Auth.js for both.
      checks: ["pkce", "state"],
      clientId: process.env.CALIMATIC_CLIENT_ID!,
      clientSecret: process.env.CALIMATIC_CLIENT_SECRET!,
      authorization: {
        params: {
          scope: "openid profile email organization offline_access",
          code_challenge_method: "S256",
        },
      },
      profile(profile) {
        return {
          id: profile.sub,
          name: profile.name,
          email: profile.email,
          image: profile.picture,
        };
      },
    },
  ],
  callbacks: {
    async jwt({ token, account, profile }) {
      // On initial sign-in, save tokens and profile claims
      if (account) {
        token.accessToken = account.access_token;
        token.refreshToken = account.refresh_token;
        token.expiresAt = account.expires_at;
        token.idToken = account.id_token;
      }
      if (profile) {
        token.organizationId = profile.organization_id;
        token.organizationMemberships = profile.organization_memberships;
        token.userType = profile.user_type;
      }
      // Refresh 5 minutes before the access token expires (the rotated refresh token replaces the old one).
      if (token.expiresAt && Date.now() / 1000 > (token.expiresAt as number) - 300 && token.refreshToken) {
        const config = await fetch(`${process.env.OIDC_ISSUER}/.well-known/openid-configuration`).then((r) => r.json());
        const res = await fetch(config.token_endpoint, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            Authorization: "Basic " + Buffer.from(`${process.env.CALIMATIC_CLIENT_ID}:${process.env.CALIMATIC_CLIENT_SECRET}`).toString("base64"),
          },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token.refreshToken as string }),
        });
        const refreshed = await res.json();
        if (res.ok) {
          token.accessToken = refreshed.access_token;
          token.refreshToken = refreshed.refresh_token;
          token.expiresAt = Math.floor(Date.now() / 1000) + refreshed.expires_in;
        } else {
          token.error = "RefreshFailed";
        }
      }
      return token;
    },
    async session({ session, token }) {
      (session as any).accessToken = token.accessToken as string;
      (session.user as any).organizationId = token.organizationId as string;
      (session.user as any).organizationMemberships = token.organizationMemberships;
      (session.user as any).userType = token.userType as string;
      return session;
    },
  },
});
