//! Localised strings of the administration console: confirmations, success messages,
//! refusals and help.

use std::collections::BTreeMap;

use admit_core::Locale;

/// One string of the administration console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ConsoleMessage {
    /// Before sending a first invitation.
    ConfirmInvite,
    /// The button that confirms [`ConsoleMessage::ConfirmInvite`].
    ConfirmInviteButton,
    /// After an invitation was sent.
    InviteSent,
    /// Before sending a reminder (« relance »).
    ConfirmRemind,
    /// The button that confirms [`ConsoleMessage::ConfirmRemind`].
    ConfirmRemindButton,
    /// After a reminder was sent.
    ReminderSent,
    /// Before sending a password-reset email.
    ConfirmSendReset,
    /// The button that confirms [`ConsoleMessage::ConfirmSendReset`] (worded as in the
    /// reference console: « Oui, renvoyer l'invitation »).
    ConfirmSendResetButton,
    /// After a password-reset email was sent (worded as in the reference console:
    /// « Invitation envoyée avec succès. »).
    ResetSent,
    /// Before generating one temporary password.
    ConfirmTemporaryPassword,
    /// The button that confirms [`ConsoleMessage::ConfirmTemporaryPassword`].
    ConfirmTemporaryPasswordButton,
    /// After one temporary password was generated.
    TemporaryPasswordSent,
    /// Before generating temporary passwords for a selection.
    ConfirmBatchTemporaryPasswords,
    /// The button that confirms [`ConsoleMessage::ConfirmBatchTemporaryPasswords`].
    ConfirmBatchTemporaryPasswordsButton,
    /// After temporary passwords were generated for a selection.
    BatchTemporaryPasswordsSent,
    /// Why some rows of a batch cannot be selected.
    BatchOnlyWithEmail,
    /// When recipients receive generated passwords.
    TemporaryPasswordDeliveryNotice,
    /// Where to find the mails that were sent.
    SentMailsInJournal,
    /// Before an administrator sets a password directly.
    ConfirmSetPassword,
    /// The button that confirms [`ConsoleMessage::ConfirmSetPassword`].
    ConfirmSetPasswordButton,
    /// The check box « must change at next sign-in ».
    MustChangeAtNextSignIn,
    /// After a password was set directly.
    PasswordUpdated,
    /// The new password and its confirmation differ.
    PasswordsDoNotMatch,
    /// Before disabling an account.
    ConfirmDisable,
    /// After an account was disabled.
    Disabled,
    /// Before enabling an account again.
    ConfirmEnable,
    /// After an account was enabled.
    Enabled,
    /// Before moving an account to the trash.
    ConfirmTrash,
    /// After an account was moved to the trash.
    Trashed,
    /// Before restoring an account from the trash.
    ConfirmRestore,
    /// After an account was restored.
    Restored,
    /// A department or role address was refused.
    RoleAddressRefused,
    /// An email address is already used by another account.
    EmailAlreadyUsed,
    /// Too many sends to one account, or too many requests.
    RateLimited,
    /// The reset of an account that was never invited: invite it instead.
    InviteFirst,
    /// A link that is invalid, used or expired (the same words for every case).
    InvalidOrExpiredLink,
    /// Help heading: didn't get the email?
    EmailNotReceived,
    /// Help: check the spam folder.
    EmailNotReceivedCheckSpam,
    /// Help: activate the account by resetting the password.
    EmailNotReceivedResetPassword,
    /// Help: still stuck, contact support.
    EmailNotReceivedContactSupport,
}

impl ConsoleMessage {
    /// Every message.
    pub const ALL: [ConsoleMessage; 40] = [
        ConsoleMessage::ConfirmInvite,
        ConsoleMessage::ConfirmInviteButton,
        ConsoleMessage::InviteSent,
        ConsoleMessage::ConfirmRemind,
        ConsoleMessage::ConfirmRemindButton,
        ConsoleMessage::ReminderSent,
        ConsoleMessage::ConfirmSendReset,
        ConsoleMessage::ConfirmSendResetButton,
        ConsoleMessage::ResetSent,
        ConsoleMessage::ConfirmTemporaryPassword,
        ConsoleMessage::ConfirmTemporaryPasswordButton,
        ConsoleMessage::TemporaryPasswordSent,
        ConsoleMessage::ConfirmBatchTemporaryPasswords,
        ConsoleMessage::ConfirmBatchTemporaryPasswordsButton,
        ConsoleMessage::BatchTemporaryPasswordsSent,
        ConsoleMessage::BatchOnlyWithEmail,
        ConsoleMessage::TemporaryPasswordDeliveryNotice,
        ConsoleMessage::SentMailsInJournal,
        ConsoleMessage::ConfirmSetPassword,
        ConsoleMessage::ConfirmSetPasswordButton,
        ConsoleMessage::MustChangeAtNextSignIn,
        ConsoleMessage::PasswordUpdated,
        ConsoleMessage::PasswordsDoNotMatch,
        ConsoleMessage::ConfirmDisable,
        ConsoleMessage::Disabled,
        ConsoleMessage::ConfirmEnable,
        ConsoleMessage::Enabled,
        ConsoleMessage::ConfirmTrash,
        ConsoleMessage::Trashed,
        ConsoleMessage::ConfirmRestore,
        ConsoleMessage::Restored,
        ConsoleMessage::RoleAddressRefused,
        ConsoleMessage::EmailAlreadyUsed,
        ConsoleMessage::RateLimited,
        ConsoleMessage::InviteFirst,
        ConsoleMessage::InvalidOrExpiredLink,
        ConsoleMessage::EmailNotReceived,
        ConsoleMessage::EmailNotReceivedCheckSpam,
        ConsoleMessage::EmailNotReceivedResetPassword,
        ConsoleMessage::EmailNotReceivedContactSupport,
    ];

    fn french(self) -> &'static str {
        use ConsoleMessage as M;
        match self {
            M::ConfirmInvite => {
                "Vous êtes sur le point d'envoyer à cet utilisateur un e-mail d'invitation à créer un mot de passe. Souhaitez-vous continuer ?"
            }
            M::ConfirmInviteButton => "Oui, envoyer l'invitation",
            M::InviteSent => "Invitation envoyée avec succès.",
            M::ConfirmRemind => {
                "Cet utilisateur ne s'est toujours pas connecté. Vous êtes sur le point de lui envoyer à nouveau l'e-mail d'invitation à créer un mot de passe ; le lien précédent ne sera plus valable. Souhaitez-vous continuer ?"
            }
            M::ConfirmRemindButton => "Oui, relancer",
            M::ReminderSent => "Relance envoyée avec succès.",
            M::ConfirmSendReset => {
                "Vous êtes sur le point d'envoyer un e-mail de réinitialisation à ce compte. Le destinataire pourra définir un nouveau mot de passe. Souhaitez-vous continuer ?"
            }
            M::ConfirmSendResetButton => "Oui, renvoyer l'invitation",
            M::ResetSent => "Invitation envoyée avec succès.",
            M::ConfirmTemporaryPassword => {
                "Vous êtes sur le point de générer un mot de passe temporaire pour ce compte. Il sera envoyé par e-mail au destinataire, qui devra le changer à sa prochaine connexion. Souhaitez-vous continuer ?"
            }
            M::ConfirmTemporaryPasswordButton => "Oui, générer le mot de passe",
            M::TemporaryPasswordSent => "Mot de passe temporaire généré avec succès.",
            M::ConfirmBatchTemporaryPasswords => {
                "Vous êtes sur le point de générer un mot de passe temporaire pour chaque utilisateur sélectionné. Chacun le recevra par e-mail et devra le changer à sa prochaine connexion. Souhaitez-vous continuer ?"
            }
            M::ConfirmBatchTemporaryPasswordsButton => "Oui, générer les mots de passe",
            M::BatchTemporaryPasswordsSent => "Mots de passe temporaires générés avec succès.",
            M::BatchOnlyWithEmail => "Seuls les utilisateurs ayant une adresse e-mail peuvent être sélectionnés.",
            M::TemporaryPasswordDeliveryNotice => {
                "Les mots de passe sont reçus par les utilisateurs quelques minutes après la génération."
            }
            M::SentMailsInJournal => {
                "Vous pouvez retrouver les e-mails envoyés dans le journal des e-mails, par exemple en filtrant sur le sujet « mot de passe »."
            }
            M::ConfirmSetPassword => {
                "Vous êtes sur le point de définir le mot de passe de ce compte. Il prendra effet immédiatement et le titulaire du compte en sera informé par e-mail. Souhaitez-vous continuer ?"
            }
            M::ConfirmSetPasswordButton => "Oui, enregistrer le mot de passe",
            M::MustChangeAtNextSignIn => {
                "Demander à l'utilisateur de changer son mot de passe à sa prochaine connexion"
            }
            M::PasswordUpdated => "Le mot de passe a été mis à jour.",
            M::PasswordsDoNotMatch => "Le mot de passe et sa confirmation ne correspondent pas.",
            M::ConfirmDisable => {
                "Vous êtes sur le point de désactiver ce compte. Son titulaire ne pourra plus se connecter et les liens envoyés ne seront plus valables. Souhaitez-vous continuer ?"
            }
            M::Disabled => "Compte désactivé avec succès.",
            M::ConfirmEnable => {
                "Vous êtes sur le point de réactiver ce compte. Pour que son titulaire puisse se connecter, envoyez-lui ensuite une invitation ou un e-mail de réinitialisation. Souhaitez-vous continuer ?"
            }
            M::Enabled => "Compte réactivé avec succès.",
            M::ConfirmTrash => {
                "Vous êtes sur le point de placer ce compte dans la corbeille. Vous pourrez le restaurer pendant la durée de conservation. Souhaitez-vous continuer ?"
            }
            M::Trashed => "Compte placé dans la corbeille.",
            M::ConfirmRestore => "Vous êtes sur le point de restaurer ce compte. Souhaitez-vous continuer ?",
            M::Restored => "Compte restauré avec succès.",
            M::RoleAddressRefused => {
                "Nous ne pouvons pas créer de comptes pour des départements entiers, comme maintenance@nomdelentreprise.fr. Indiquez l'adresse personnelle de chaque personne."
            }
            M::EmailAlreadyUsed => "Un compte existe déjà avec cette adresse e-mail.",
            M::RateLimited => "Un e-mail vient déjà d'être envoyé. Veuillez patienter un instant avant de réessayer.",
            M::InviteFirst => {
                "Ce compte n'a pas encore été invité : envoyez-lui d'abord une invitation à créer son mot de passe."
            }
            M::InvalidOrExpiredLink => {
                "Ce lien n'est pas valide ou a expiré. Vous pouvez demander un nouveau lien depuis la page de connexion."
            }
            M::EmailNotReceived => "Vous n'avez pas reçu l'e-mail ?",
            M::EmailNotReceivedCheckSpam => "Vérifiez votre dossier de spam ou de courriers indésirables.",
            M::EmailNotReceivedResetPassword => {
                "S'il ne s'y trouve pas, vous pouvez activer votre compte en réinitialisant votre mot de passe."
            }
            M::EmailNotReceivedContactSupport => {
                "Vous avez toujours des difficultés ? Contactez le support pour obtenir de l'aide."
            }
        }
    }

    fn english(self) -> &'static str {
        use ConsoleMessage as M;
        match self {
            M::ConfirmInvite => {
                "You are about to send this user an invitation email to create a password. Do you want to continue?"
            }
            M::ConfirmInviteButton => "Yes, send the invitation",
            M::InviteSent => "Invitation sent successfully.",
            M::ConfirmRemind => {
                "This user has still not signed in. You are about to send the invitation email to create a password again; the previous link will stop working. Do you want to continue?"
            }
            M::ConfirmRemindButton => "Yes, send a reminder",
            M::ReminderSent => "Reminder sent successfully.",
            M::ConfirmSendReset => {
                "You are about to send a password reset email to this account. The recipient will be able to set a new password. Do you want to continue?"
            }
            M::ConfirmSendResetButton => "Yes, send it again",
            M::ResetSent => "Email sent successfully.",
            M::ConfirmTemporaryPassword => {
                "You are about to generate a temporary password for this account. It will be emailed to the recipient, who must change it at the next sign-in. Do you want to continue?"
            }
            M::ConfirmTemporaryPasswordButton => "Yes, generate the password",
            M::TemporaryPasswordSent => "Temporary password generated successfully.",
            M::ConfirmBatchTemporaryPasswords => {
                "You are about to generate a temporary password for each selected user. Each will receive it by email and must change it at the next sign-in. Do you want to continue?"
            }
            M::ConfirmBatchTemporaryPasswordsButton => "Yes, generate the passwords",
            M::BatchTemporaryPasswordsSent => "Temporary passwords generated successfully.",
            M::BatchOnlyWithEmail => "Only users with an email address can be selected.",
            M::TemporaryPasswordDeliveryNotice => {
                "Users receive their passwords a few minutes after they are generated."
            }
            M::SentMailsInJournal => {
                "You can find the emails that were sent in the email log, for example by filtering on the subject \"password\"."
            }
            M::ConfirmSetPassword => {
                "You are about to set the password of this account. It takes effect immediately and the account holder will be notified by email. Do you want to continue?"
            }
            M::ConfirmSetPasswordButton => "Yes, save the password",
            M::MustChangeAtNextSignIn => "Ask the user to change this password at the next sign-in",
            M::PasswordUpdated => "The password has been updated.",
            M::PasswordsDoNotMatch => "The password and its confirmation do not match.",
            M::ConfirmDisable => {
                "You are about to disable this account. Its holder will no longer be able to sign in and links already sent will stop working. Do you want to continue?"
            }
            M::Disabled => "Account disabled successfully.",
            M::ConfirmEnable => {
                "You are about to enable this account again. To let its holder sign in, then send an invitation or a password reset email. Do you want to continue?"
            }
            M::Enabled => "Account enabled successfully.",
            M::ConfirmTrash => {
                "You are about to move this account to the trash. You can restore it during the retention period. Do you want to continue?"
            }
            M::Trashed => "Account moved to the trash.",
            M::ConfirmRestore => "You are about to restore this account. Do you want to continue?",
            M::Restored => "Account restored successfully.",
            M::RoleAddressRefused => {
                "We cannot create accounts for whole departments, such as maintenance@yourcompany.com. Please enter each person's own address."
            }
            M::EmailAlreadyUsed => "An account already exists with this email address.",
            M::RateLimited => "An email was just sent. Please wait a moment before trying again.",
            M::InviteFirst => {
                "This account has not been invited yet: send it an invitation to create a password first."
            }
            M::InvalidOrExpiredLink => {
                "This link is invalid or has expired. You can ask for a new link from the sign-in page."
            }
            M::EmailNotReceived => "Didn't get the email?",
            M::EmailNotReceivedCheckSpam => "Check your spam or junk folder.",
            M::EmailNotReceivedResetPassword => {
                "If it isn't there, you can activate your account by resetting your password."
            }
            M::EmailNotReceivedContactSupport => "Still having trouble? Contact support for help.",
        }
    }
}

/// The console strings in French and English, with host overrides and other languages.
///
/// Lookup: an override for the exact tag, then for its language, then the built-in text
/// for the language, then the same for the default locale, then English.
///
/// ```
/// use admit_core::Locale;
/// use admit_mail::{Catalogue, ConsoleMessage};
///
/// let catalogue = Catalogue::builtin();
/// assert_eq!(
///     catalogue.text(ConsoleMessage::ConfirmSendResetButton, &Locale::parse("fr-CA")?),
///     "Oui, renvoyer l'invitation"
/// );
/// assert_eq!(catalogue.text(ConsoleMessage::PasswordUpdated, &Locale::en()), "The password has been updated.");
/// # Ok::<(), admit_core::FieldError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Catalogue {
    default_locale: Locale,
    overrides: BTreeMap<(String, ConsoleMessage), String>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::builtin()
    }
}

impl Catalogue {
    /// The built-in French and English strings, default locale English.
    pub fn builtin() -> Self {
        Catalogue { default_locale: Locale::en(), overrides: BTreeMap::new() }
    }

    /// Sets the locale used when the requested one has no string.
    pub fn default_locale(mut self, locale: Locale) -> Self {
        self.default_locale = locale;
        self
    }

    /// Replaces (or adds, for another language) one string.
    pub fn override_text(mut self, locale: &Locale, message: ConsoleMessage, text: impl Into<String>) -> Self {
        self.overrides.insert((locale.as_str().to_owned(), message), text.into());
        self
    }

    /// The text of `message` for `locale`.
    pub fn text(&self, message: ConsoleMessage, locale: &Locale) -> &str {
        self.lookup(message, locale)
            .or_else(|| self.lookup(message, &self.default_locale))
            .unwrap_or_else(|| message.english())
    }

    fn lookup(&self, message: ConsoleMessage, locale: &Locale) -> Option<&str> {
        let tags = [locale.as_str(), locale.language()];
        tags.iter().find_map(|tag| self.overrides.get(&((*tag).to_owned(), message)).map(String::as_str)).or(
            match locale.language() {
                "fr" => Some(message.french()),
                "en" => Some(message.english()),
                _ => None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_reference_console_wording_is_kept() {
        let c = Catalogue::builtin();
        let fr = Locale::fr();
        assert_eq!(
            c.text(ConsoleMessage::ConfirmSendReset, &fr),
            "Vous êtes sur le point d'envoyer un e-mail de réinitialisation à ce compte. Le destinataire pourra définir un nouveau mot de passe. Souhaitez-vous continuer ?"
        );
        assert_eq!(c.text(ConsoleMessage::ConfirmSendResetButton, &fr), "Oui, renvoyer l'invitation");
        assert_eq!(c.text(ConsoleMessage::ResetSent, &fr), "Invitation envoyée avec succès.");
        assert_eq!(c.text(ConsoleMessage::PasswordUpdated, &fr), "Le mot de passe a été mis à jour.");
        assert!(
            c.text(ConsoleMessage::RoleAddressRefused, &fr)
                .starts_with("Nous ne pouvons pas créer de comptes pour des départements entiers, comme maintenance@")
        );
        assert_eq!(c.text(ConsoleMessage::EmailNotReceived, &fr), "Vous n'avez pas reçu l'e-mail ?");
    }

    #[test]
    fn every_message_has_distinct_non_empty_text_in_both_languages() {
        let c = Catalogue::builtin();
        for locale in [Locale::fr(), Locale::en()] {
            let mut seen = BTreeSet::new();
            for message in ConsoleMessage::ALL {
                let text = c.text(message, &locale);
                assert!(!text.trim().is_empty(), "{message:?} in {locale}");
                // The reference console reuses the invitation success message for resets.
                if message != ConsoleMessage::ResetSent || locale.language() != "fr" {
                    assert!(seen.insert(text), "{message:?} duplicates another text in {locale}");
                }
            }
        }
        for message in ConsoleMessage::ALL {
            assert_ne!(message.french(), message.english(), "{message:?} is translated");
        }
    }

    #[test]
    fn lookup_falls_back_from_tag_to_language_to_default() {
        let c = Catalogue::builtin()
            .default_locale(Locale::fr())
            .override_text(&Locale::parse("fr-CA").unwrap(), ConsoleMessage::InviteSent, "Invitation envoyée!")
            .override_text(&Locale::parse("de").unwrap(), ConsoleMessage::InviteSent, "Einladung gesendet.");
        assert_eq!(c.text(ConsoleMessage::InviteSent, &Locale::parse("fr-CA").unwrap()), "Invitation envoyée!");
        assert_eq!(
            c.text(ConsoleMessage::InviteSent, &Locale::parse("fr-BE").unwrap()),
            "Invitation envoyée avec succès."
        );
        assert_eq!(c.text(ConsoleMessage::InviteSent, &Locale::parse("de-AT").unwrap()), "Einladung gesendet.");
        // German has no other string: the default locale (French) answers.
        assert_eq!(c.text(ConsoleMessage::Restored, &Locale::parse("de").unwrap()), "Compte restauré avec succès.");
        assert_eq!(c.text(ConsoleMessage::Restored, &Locale::parse("es").unwrap()), "Compte restauré avec succès.");
    }
}
